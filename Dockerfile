# The images: one build stage, parameterised by the pyproject extras it installs and the
# import packages it ships, then one target per image. Build context: the repository root.
#
#   docker build --target runtime -t modelops-runtime \
#       --build-arg EXTRAS="runtime xgboost-cpu gcs" \
#       --build-arg PACKAGES="modelops_contracts modelops_runtime" .
#   docker build --target operator -t modelops-operator \
#       --build-arg EXTRAS=operator \
#       --build-arg PACKAGES="modelops_contracts modelops_operator" .
#
# (`make images` builds both that way, with buildah on a debootstrap bookworm base; see
# hack/images.sh.) The framework versions come from constraints.txt, the same pins as the
# dev venv, so an artifact trained there loads here. XGBoost is the CPU-only wheel.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Optional, for networks that reach PyPI through a TLS-inspecting proxy: make images
# passes the host's CA bundle as a build-time volume (nothing of it is stored).
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# pip lives in a tools venv of the build stage; /opt/venv (shipped) gets one only where it
# is used: the runtime installs trainer packages at a training pod's start.
RUN python3 -m venv /opt/tools && python3 -m venv --without-pip /opt/venv
WORKDIR /src
# Dependencies first, in a layer (and a final-stage copy) reused while only the sources
# change.
COPY pyproject.toml constraints.txt ./
COPY hack/image_contents.py /usr/local/bin/image-contents
ARG EXTRAS
RUN python3 /usr/local/bin/image-contents requirements ${EXTRAS} > /tmp/requirements.txt \
 && /opt/tools/bin/pip --python /opt/venv/bin/python install -c constraints.txt \
      -r /tmp/requirements.txt \
 && case " ${EXTRAS} " in *" runtime "*) \
      /opt/tools/bin/pip --python /opt/venv/bin/python install -c constraints.txt pip ;; esac \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_path('purelib'))" \
      | xargs -I{} sh -c 'echo /opt/modelops > {}/modelops.pth'
# The project itself: the shipped import packages and the distribution's metadata, in a
# small tree of their own on the venv's path (modelops.pth).
COPY contracts/ contracts/
COPY runtime/ runtime/
COPY operator/ operator/
COPY cli/ cli/
ARG PACKAGES
RUN /opt/venv/bin/python /usr/local/bin/image-contents install /opt/modelops ${PACKAGES} \
 && /opt/venv/bin/python -m compileall -q /opt/modelops

FROM ${BASE_IMAGE} AS image
RUN echo 'modelops:x:1000:1000:modelops:/home/modelops:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'modelops:x:1000:' >> /etc/group \
 && mkdir -p /home/modelops && chown 1000:1000 /home/modelops
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/modelops /opt/modelops
ENV PATH=/opt/modelops/bin:/opt/venv/bin:$PATH HOME=/home/modelops PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /home/modelops
USER 1000:1000

# The predictor pods: `fetch ...` (the init step) and `serve ...`. Each target checks that
# its build shipped its package (the build args above).
FROM image AS runtime
RUN python -c "import modelops_runtime"
EXPOSE 8080
ENTRYPOINT ["python", "-m", "modelops_runtime"]
CMD ["--help"]

# The controller: `python -m modelops_operator` runs kopf with its handlers (as the chart does).
FROM image AS operator
RUN python -c "import modelops_operator"
ENTRYPOINT ["python", "-m", "modelops_operator"]
