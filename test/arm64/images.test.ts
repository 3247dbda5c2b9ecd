/**
 * The linux/arm64 image in the simulated Pod (issue 16): test/pod/images.test.ts (the image's own
 * root and --install, the original Job with its server on an Alpine-like root, the scratch-like
 * roots) with dist/arm64 instead of dist, run under qemu-user through binfmt_misc.
 */
process.env.K8PSH_TEST_ARCH = 'arm64';
await import('../pod/images.test.js');
