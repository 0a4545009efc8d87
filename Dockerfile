# The fan-out service's image (ECS Fargate, arm64): the project with its runtime dependencies
# only, run as an unprivileged user. Built and pushed by the deploy (see the README):
#   docker build --platform linux/arm64 -t <account>.dkr.ecr.<region>.amazonaws.com/sotto-fanout:<tag> .
FROM public.ecr.aws/docker/library/python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY common common
COPY connections connections
COPY chat chat
COPY notifications notifications
COPY verification verification
COPY analytics analytics
RUN pip install --no-cache-dir . && useradd --system --no-create-home sotto
USER sotto

CMD ["python", "-m", "chat.fanout_service"]
