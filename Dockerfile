# GPU image: CUDA build of torch, DeepSpeed with its ops compiled, the project installed.
#   docker build -t mpa_dist .
#   docker run --gpus all --shm-size 16g -v $PWD/shards:/app/shards -v $PWD/runs:/app/runs mpa_dist \
#       deepspeed --num_gpus 8 launch/pretrain.py experiment=full
FROM nvidia/cuda:12.8.1-cudnn-devel-ubuntu22.04

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
# Hopper (H100/H200) and Ampere (A100); add 8.9 for L4/L40
ARG TORCH_CUDA_ARCH_LIST="8.0;9.0"
ARG PIP_VERSION=24.0

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST} MPA_CACHE=/app/.cache

# The base image's tag fixes the distribution; exact apt pins would break the build as
# Ubuntu and deadsnakes replace package versions on their mirrors.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common git build-essential libaio-dev \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get install -y --no-install-recommends python3.11 python3.11-dev python3.11-venv \
 && rm -rf /var/lib/apt/lists/*

RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# The CUDA build of torch first, so nothing later replaces it with another build.
RUN pip install pip==${PIP_VERSION} \
 && pip install torch==${TORCH_VERSION} --index-url ${TORCH_INDEX} \
 && echo "torch==${TORCH_VERSION}" > /tmp/constraints.txt

WORKDIR /app
COPY requirements.txt pyproject.toml ./
# DeepSpeed's CPU Adam, fused Adam and async I/O ops compiled at install time, not at first use.
RUN DS_BUILD_CPU_ADAM=1 DS_BUILD_FUSED_ADAM=1 DS_BUILD_AIO=1 DS_BUILD_UTILS=1 \
    PIP_CONSTRAINT=/tmp/constraints.txt pip install -r requirements.txt \
 && PIP_CONSTRAINT=/tmp/constraints.txt pip install cuequivariance-ops-torch-cu12==0.13.0 \
 && python -c "import deepspeed.ops.adam; print('deepspeed ops ok')"

COPY . .
RUN pip install --no-deps -e . \
 && mpa-data --fetch

CMD ["python", "launch/catalog.py"]
