# Two commands set everything up: `make demo` and `make test`.
# Both create the virtual environment when it is missing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# uv installs the stack in seconds. It is given the local sources that pip's own
# configuration names: find-links folders and file:// indexes (mirrors on this machine).
# A remote extra index is passed only when asked (TRUST_EXTRA_INDEXES=1): resolved together
# with the main index, any index could shadow one of its packages. pip is the fallback.
PIP_FIND_LINKS = $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
PIP_EXTRA_INDEX = $(shell $(PYTHON) -m pip config get global.extra-index-url 2>/dev/null)
EXTRA_INDEXES = $(if $(TRUST_EXTRA_INDEXES),$(PIP_EXTRA_INDEX),$(filter file://%,$(PIP_EXTRA_INDEX)))
UV_SOURCES = $(foreach u,$(EXTRA_INDEXES),--extra-index-url $(u)) \
             $(foreach d,$(PIP_FIND_LINKS),--find-links $(d))

export HF_HUB_OFFLINE := 1
export NO_ALBUMENTATIONS_UPDATE := 1

.PHONY: demo test lint bench zoo clean

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet uv && \
	  $(BIN)/uv pip install --python $(BIN)/python --index-strategy unsafe-best-match \
	    $(UV_SOURCES) -c .ci/constraints.txt -e '.[dev]' ) || \
	$(BIN)/python -m pip install -c .ci/constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/plantwatch demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/plantwatch bench data
	$(BIN)/plantwatch bench fit

# The pretrained encoders of experiments/studies/label_efficiency.yaml (about 100 min on 2
# CPU cores): SimCLR on unlabelled plant scenes of other plants (seed 1), cross-modal S1-S2
# on synthetic ben-ge, supervised late-fused ben-ge land cover (its S2 branch).
# Then same-plant contrast and masked image modelling at scale: 5,120 unlabelled scenes of 640
# other plants (seed 1; 10 times SimCLR's), 45 epochs (3 times), read packed (same-plant: 22
# min on 2 CPU cores); masked image modelling on 64 px crops (50 min).
SSL_PLANTS = --data.init_args.root=data/ssl_plants_640 --data.init_args.source.init_args.seed=1 \
  --data.init_args.source.init_args.plants=640 --data.init_args.source.init_args.per_plant=8 \
  --data.init_args.source.init_args.size=96 --data.init_args.pack=true --trainer.max_epochs=45
ZOO_RUN = --trainer.logger.init_args.save_dir=runs --trainer.logger.init_args.name=zoo \
          --trainer.enable_progress_bar=false --trainer.logger.init_args.version
zoo: $(STAMP)
	$(BIN)/plantwatch fit --config experiments/ssl/simclr_plants.yaml $(ZOO_RUN)=simclr-plants \
	  --data.init_args.root=data/ssl_plants --data.init_args.source.init_args.seed=1 \
	  --data.init_args.source.init_args.plants=64 --data.init_args.source.init_args.per_plant=8 \
	  --data.init_args.source.init_args.size=96 --trainer.max_epochs=15
	$(BIN)/plantwatch zoo export runs/zoo/simclr-plants simclr-plants --overwrite
	$(BIN)/plantwatch fit --config experiments/ssl/crossmodal_benge.yaml \
	  $(ZOO_RUN)=crossmodal-benge --trainer.max_epochs=15
	$(BIN)/plantwatch zoo export runs/zoo/crossmodal-benge crossmodal-benge --overwrite
	$(BIN)/plantwatch fit --config quickstart \
	  --config experiments/data/ben-ge-synthetic.yaml --config experiments/benge/multitask.yaml \
	  --config experiments/benge/fusion_late.yaml $(ZOO_RUN)=benge-fused --trainer.max_epochs=12
	$(BIN)/plantwatch zoo export runs/zoo/benge-fused benge-fused --overwrite
	$(BIN)/plantwatch fit --config experiments/ssl/same_plant.yaml $(ZOO_RUN)=same-plant \
	  $(SSL_PLANTS)
	$(BIN)/plantwatch zoo export runs/zoo/same-plant same-plant --overwrite
	$(BIN)/plantwatch fit --config experiments/ssl/masked_plants.yaml $(ZOO_RUN)=masked-plants \
	  $(SSL_PLANTS) --data.init_args.augmentation.init_args.crop_size=64
	$(BIN)/plantwatch zoo export runs/zoo/masked-plants masked-plants --overwrite
	$(BIN)/plantwatch zoo list

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
