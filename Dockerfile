# keysweep in a container, for scheduled sweeps (examples/k8s/keysweep-cronjob.yaml) and CI.
#   docker build -t keysweep .
#   docker run --rm -v "$PWD:/work:ro" keysweep scan git /work --no-store
# Two stages: the wheel is built from this checkout in the first; the final image has Python,
# git (scan git needs it), keysweep and its dependencies from the wheel, no build tools, and runs
# as an unprivileged user.
FROM python:3.12-slim AS build
WORKDIR /src
COPY . .
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/* \
 # Repositories are mounted from the host, owned by another user: let git read them.
 && git config --system --add safe.directory '*' \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin keysweep
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER keysweep
WORKDIR /home/keysweep
# The findings store; mount a volume here to keep it between runs.
ENV KEYSWEEP_DB=/home/keysweep/data/keysweep.db
ENTRYPOINT ["keysweep"]
CMD ["--help"]
