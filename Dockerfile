# scm-harness in a container: Debian bookworm (Python 3.11) and the README's two commands.
#
#   docker build -t scm-harness .
#   docker run --rm -v "$PWD/reports:/src/scm-harness/reports" scm-harness              # the conformance run
#   docker run --rm scm-harness bash .ci/scm-harness test                                # the tests
#
# The harness runs as root (the container's); the container's seccomp profile and capabilities
# are part of the platform under test (run_info says what was probed: kcmp, pidfds, ...).
FROM debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates git gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src/scm-harness
COPY . .
# the first use sets up .venv (PyPI) at build time, so that the run needs no network
RUN bash .ci/scm-harness list >/dev/null
CMD ["bash", ".ci/scm-harness", "run"]
