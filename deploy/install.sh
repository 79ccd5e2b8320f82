#!/bin/sh
# Installs provisioner from a wheel with exactly the pinned dependencies of the lock file:
#   deploy/install.sh REQUIREMENTS WHEEL
# REQUIREMENTS: the runtime lock file (requirements.lock: every pin hashed, pip checks them),
# without the project itself. The Dockerfile runs this; tests/unit/test_deploy.py runs it too (into a throwaway
# virtualenv).
set -eu
pip install --no-cache-dir --no-deps --only-binary=:all: -r "$1"
pip install --no-cache-dir --no-deps "$2"
pip check
