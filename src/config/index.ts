/**
 * The configuration layer. parseToml lives in ./toml.js and is not re-exported here: importing
 * this module must not load the toml package (loadConfig imports it only for `*.toml` files).
 */
export * from './model.js';
export { ConfigError, ConfigFileError, UntrustedConfigError } from './errors.js';
export { type ParseOptions, parseConf } from './parse.js';
export { type LoadOptions, configPath, isTomlFile, loadConfig } from './load.js';
export { convertConfToToml } from './convert.js';
export { quoteConfString, quoteTomlString } from './quote.js';
export { type Environment, clientEnvironment, commandEnvironment } from './environment.js';
export { type Lookup, lookupIn, substitute } from './substitute.js';
