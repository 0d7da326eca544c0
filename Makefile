# bento-ts: the seed guide's Makefile targets, for a TypeScript model server.
# `make serve` then `make serve-test-predict` on a fresh clone; `make test` runs every test.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 3000
HOST ?= 0.0.0.0
SERVICE ?= .
IMAGE ?= services/vision-classifier/samples/test_image.jpg
RUN_DIR := .bento
PID_FILE := $(RUN_DIR)/serve.pid
LOG_FILE := $(RUN_DIR)/serve.log
PYTHON_TORCH ?= /usr/bin/python3

# Model selection and serving variables given on the command line (make serve MODEL_RUN_ID=...) reach the server.
PASS_VARS := MODEL_URI MODEL_RUN_ID MODEL_NAME MODEL_VERSION MODEL_ARTIFACT_PATH MLFLOW_TRACKING_URI MLFLOW_REGISTRY_URI \
             MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD MLFLOW_TRACKING_TOKEN MLFLOW_TRACKING_INSECURE_TLS \
             MLFLOW_S3_ENDPOINT_URL MLFLOW_S3_IGNORE_TLS AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION BENTO_HOME \
             MAX_BATCH_IMAGES BENTO_RUNNER_WORKERS BENTO_RUNNER_THREADS BENTO_LOG_LEVEL BACKEND BENTO_TFJS_ENGINE \
             BENTO_MODEL_POLL_SECONDS MODEL_INPUT_SHAPE MODEL_MEAN MODEL_STD MODEL_CLASSES BENTO_CONVERT_PYTHON
SERVE_ENV := $(foreach v,$(PASS_VARS),$(if $(value $(v)),$(v)='$($(v))'))

export ONNXRUNTIME_NODE_INSTALL := skip

.PHONY: help install build serve serve-stop serve-logs serve-test serve-test-predict bentoml-ui serve-build serve-list containerize tune \
        base-image docker-engine docker-engine-stop k8s-validate k8s-up k8s-down k8s-status test-k8s test lint format test-reliability test-soak audit bench bench-versions train samples clean stack-install start stop logs mlflow-ui train-bundled \
        tfjs-model

# The MLflow stack (infra/stack.sh): STACK=basic (SQLite + local artifacts) or full (PostgreSQL + MinIO).
STACK ?= basic
MLFLOW_PORT ?= 5001
STACK_ENV := MLFLOW_PORT=$(MLFLOW_PORT) $(if $(STACK_DIR),STACK_DIR='$(STACK_DIR)')

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package.json framework/package.json plugins/*/package.json services/*/package.json
	npm install --no-audit --no-fund
	@touch $@

install: node_modules/.package-lock.json ## Install dependencies (npm workspaces; ONNX Runtime's CUDA download skipped)

build: install ## Compile every package with tsc
	npx tsc -b

serve: build ## Start the server in the background (MODEL_URI / MODEL_RUN_ID / MODEL_NAME [MODEL_VERSION] / PORT)
	@mkdir -p $(RUN_DIR)
	@if [ -f $(PID_FILE) ] && kill -0 $$(cat $(PID_FILE)) 2>/dev/null; then \
	  echo "Server already running (pid $$(cat $(PID_FILE))); make serve-stop first."; exit 1; fi
	@$(SERVE_ENV) nohup node framework/bin/bento.js serve $(SERVICE) --port $(PORT) --host $(HOST) > $(LOG_FILE) 2>&1 & echo $$! > $(PID_FILE)
	@for i in $$(seq 1 120); do \
	  if grep -q "server started" $(LOG_FILE) 2>/dev/null; then sed -n '/server started/,/Health/p' $(LOG_FILE); echo "Logs: make serve-logs   Stop: make serve-stop"; exit 0; fi; \
	  if ! kill -0 $$(cat $(PID_FILE)) 2>/dev/null; then echo "Server failed to start:"; cat $(LOG_FILE); rm -f $(PID_FILE); exit 1; fi; \
	  sleep 0.5; done; echo "Server did not become ready in 60 s; see $(LOG_FILE)"; exit 1

serve-stop: ## Stop the background server
	@if [ -f $(PID_FILE) ] && kill -0 $$(cat $(PID_FILE)) 2>/dev/null; then \
	  kill $$(cat $(PID_FILE)); for i in $$(seq 1 50); do kill -0 $$(cat $(PID_FILE)) 2>/dev/null || break; sleep 0.2; done; \
	  echo "Server stopped."; else echo "No server running."; fi; rm -f $(PID_FILE)

serve-logs: ## Show the server log (follow with: tail -f .bento/serve.log)
	@cat $(LOG_FILE) 2>/dev/null || echo "No log yet: make serve first."

serve-test: ## Call /health and /get_model_info on the running server
	curl -fsS http://localhost:$(PORT)/health | python3 -m json.tool
	curl -fsS http://localhost:$(PORT)/get_model_info | python3 -m json.tool

serve-test-predict: ## Classify a sample image (IMAGE=path for another)
	curl -fsS -X POST http://localhost:$(PORT)/predict_image -F "image=@$(IMAGE)" | python3 -m json.tool

bentoml-ui: ## Open the API docs (Swagger UI) of the running server (the seed's target name)
	@echo "Swagger UI: http://localhost:$(PORT)/   OpenAPI: http://localhost:$(PORT)/docs.json"
	@command -v xdg-open >/dev/null && xdg-open "http://localhost:$(PORT)/" >/dev/null 2>&1 || true

serve-build: build ## Build a bento of the service into the store (bento build; VERSION=..., MODEL_NAME=... packs that model)
	@$(SERVE_ENV) node framework/bin/bento.js build $(if $(VERSION),--version '$(VERSION)')

serve-list: ## List the built bentos (bento list)
	@$(SERVE_ENV) node framework/bin/bento.js list

containerize: ## Build an image of a bento (TAG=name:version, default the newest; BACKEND=docker|podman|buildah; BUILDER_ARGS=...)
	@$(SERVE_ENV) node framework/bin/bento.js containerize $(or $(TAG),mlflow_vision_classifier:latest) $(if $(BACKEND),--backend $(BACKEND)) \
	  $(if $(BASE_IMAGE),--build-arg BASE_IMAGE='$(BASE_IMAGE)') $(if $(BUILDER_ARGS),-- $(BUILDER_ARGS))

k8s-validate: ## Validate Kubernetes manifests offline (DIR=<a kustomize base, e.g. from bento deploy>): kustomize build | kubeconform -strict
	@test -n "$(DIR)" || { echo "k8s-validate needs DIR=<directory with kustomization.yaml>"; exit 2; }
	@test -x .stack-bin/kubeconform || { echo "kubeconform is not installed: make stack-install"; exit 1; }
	@.stack-bin/kustomize build '$(DIR)' | .stack-bin/kubeconform -strict -summary \
	  -schema-location '$(CURDIR)/.stack-bin/k8s-schemas/kubernetes/{{ .ResourceKind }}{{ .KindSuffix }}.json' \
	  -schema-location '$(CURDIR)/.stack-bin/k8s-schemas/crds/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json' -

base-image: ## Build a local Node base image with debootstrap + buildah from the Node.js on PATH, and print its name (for hosts that cannot pull node:24-bookworm-slim)
	@infra/base-image.sh

docker-engine: ## Start a Docker engine (podman's Docker API) for a docker CLI without one; prints the DOCKER_HOST line to eval
	@infra/docker-engine.sh start

docker-engine-stop: ## Stop what make docker-engine started, and the containers it runs
	@infra/docker-engine.sh stop

k8s-up: ## A single-node Kubernetes cluster built here from source (infra/k8s.sh; first time: builds Kubernetes, etcd, containerd)
	@infra/k8s.sh up

k8s-down: ## Stop the cluster: every pod and component, its mounts and its network namespace (state stays in .stack/k8s)
	@infra/k8s.sh down

k8s-status: ## What of the cluster runs, and its node
	@infra/k8s.sh status

test-k8s: build ## The bundled bento on the make k8s-up cluster: deploy, Ready, scale, roll and drain under load
	node scripts/run-tests.mjs --only /k8s/

test: lint stack-install ## Lint, the layering check, then every test (unit, integration, real MLflow / PostgreSQL / MinIO on ephemeral ports)
	node scripts/run-tests.mjs

lint: build ## ESLint with type information (zero warnings), Prettier's check, and the layering check (dependency-cruiser)
	npx eslint --max-warnings=0 .
	npx prettier --check --log-level warn .
	npx depcruise framework/src plugins/*/src services/*/src --config .dependency-cruiser.cjs --output-type err

format: install ## Format the TypeScript and JavaScript sources with Prettier
	npx prettier --write --log-level warn .

test-reliability: build stack-install ## Hostile-input fuzzing and the other reliability tests, then their figures as a table (SUITE=fuzz|overload|... for one)
	@start=$$(date +%s); node scripts/run-tests.mjs --only /reliability/ $(if $(SUITE),--only '$(SUITE)'); status=$$?; \
	  node scripts/reliability-report.mjs --since $$start; exit $$status

test-soak: build ## Ten minutes at half of the measured capacity (SOAK_SECONDS): errors, RSS growth, open handles
	@start=$$(date +%s); node scripts/run-tests.mjs --only /soak/; status=$$?; \
	  node scripts/reliability-report.mjs --since $$start; exit $$status

audit: install ## Known vulnerabilities of the production dependencies (npm audit --omit=dev; fails on high or critical)
	npm audit --omit=dev --audit-level=high

stack-install: ## Install the MLflow stack's pieces if missing (PostgreSQL, .venv with MLflow, MinIO)
	@infra/install.sh

start: stack-install ## Start MLflow on :5001 (STACK=full adds PostgreSQL and MinIO: the seed's architecture)
	@$(STACK_ENV) infra/stack.sh start $(STACK)

stop: ## Stop what make start started
	@$(STACK_ENV) infra/stack.sh stop

logs: ## Show the MLflow (and PostgreSQL, MinIO) logs
	@$(STACK_ENV) infra/stack.sh logs

mlflow-ui: ## Print the MLflow UI address
	@$(STACK_ENV) infra/stack.sh status
	@echo "MLflow UI: http://localhost:$(MLFLOW_PORT)"

bench: build stack-install ## Ceilings vs served throughput/latency (autocannon), the CPU budget and profile, decode costs, bento serve vs mlflow models serve, cold start; writes bench/results/ and draws results/chart.svg
	node bench/run.mjs
	node bench/budget.mjs
	node bench/profile.mjs
	node bench/decode.mjs
	node bench/observability.mjs
	node bench/workers.mjs
	node bench/backends.mjs
	node bench/mlflow-serve.mjs
	node bench/cold-start.mjs
	node bench/cores.mjs
	@if [ -n "$$BENCH_BASELINE" ]; then node bench/versions.mjs; fi
	node bench/chart.mjs

bench-versions: build ## This checkout against BENCH_BASELINE (a commit or tag), served alternately in one run
	node bench/versions.mjs

# FLAVOR=pytorch logs as the reference does (mlflow.pytorch.log_model only), with MLflow 2.x's client: MLflow 3's pytorch
# flavor needs torch 2, and the machine's torch is Debian's 1.13.
FLAVOR ?= onnx
TRAIN_PYTHON := $(if $(filter pytorch,$(FLAVOR)),.venv-mlflow2/bin/python,.venv/bin/python)

train: stack-install ## Train the seed's model, log it to MLflow, register vision-model @champion (EPOCHS, QUICK=1, DATASET=cifar10 DATA_DIR=..., FLAVOR=pytorch)
	$(if $(MLFLOW_TRACKING_URI),MLFLOW_TRACKING_URI='$(MLFLOW_TRACKING_URI)') $(TRAIN_PYTHON) services/vision-classifier/training/train_mlflow.py \
	  --flavor $(FLAVOR) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(QUICK),--quick) $(if $(DATASET),--dataset $(DATASET)) $(if $(DATA_DIR),--data-dir '$(DATA_DIR)') \
	  $(if $(MODEL_NAME),--model-name '$(MODEL_NAME)')

tfjs-model: stack-install ## Write the bundled classifier as a TF.js model (services/vision-classifier/model-tfjs) from model/model.onnx
	.venv/bin/python services/vision-classifier/training/export_tfjs.py

tune: stack-install ## The seed's Phase 2: a grid of training runs in one MLflow experiment; the best is registered and made @champion (QUICK=1, EPOCHS)
	$(if $(MLFLOW_TRACKING_URI),MLFLOW_TRACKING_URI='$(MLFLOW_TRACKING_URI)') .venv/bin/python services/vision-classifier/training/tune.py \
	  $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(QUICK),--quick) $(if $(DATA_DIR),--data-dir '$(DATA_DIR)') $(if $(MODEL_NAME),--model-name '$(MODEL_NAME)')

train-bundled: ## Retrain the bundled Fashion-MNIST classifier in services/vision-classifier/model (no MLflow), and its TF.js copy
	$(PYTHON_TORCH) services/vision-classifier/training/train.py
	$(PYTHON_TORCH) scripts/make-template-models.py
	$(MAKE) tfjs-model

clean: ## Remove build output
	npx tsc -b --clean; rm -rf $(RUN_DIR)
