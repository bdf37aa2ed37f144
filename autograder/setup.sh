#!/usr/bin/env bash
# Gradescope image build: the Python version of environment.yml (conda-forge, through a
# checksummed Miniforge), then exactly the packages of requirements.txt, the kit's grading lock,
# each checked against its hash. The first failing step stops the build.
set -euo pipefail

SOURCE=/autograder/source
MINIFORGE=25.3.1-0
MINIFORGE_SHA256=376b160ed8130820db0ab0f3826ac1fc85923647f75c1b8231166e3d559ab768
PYTHON=/root/miniforge3/envs/otter-env/bin/python   # the environment run_autograder activates

step() { echo "=== setup.sh $(date -u +%H:%M:%S): $*"; }

step "checking the machine"
[ "$(uname -m)" = x86_64 ] || { echo "setup.sh: only x86_64 is supported" >&2; exit 1; }

step "installing wget and CA certificates (apt)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends wget ca-certificates

step "installing Miniforge $MINIFORGE"
installer="Miniforge3-$MINIFORGE-Linux-x86_64.sh"
wget -nv "https://github.com/conda-forge/miniforge/releases/download/$MINIFORGE/$installer" \
    -O "/tmp/$installer"
echo "$MINIFORGE_SHA256  /tmp/$installer" | sha256sum -c -
bash "/tmp/$installer" -b -p /root/miniforge3
rm "/tmp/$installer"

step "creating the Python environment of environment.yml"
/root/miniforge3/bin/mamba env create -q -f "$SOURCE/environment.yml"
"$PYTHON" -B "$SOURCE/gradekit/python_version.py"
"$PYTHON" --version

step "installing the grading lock (requirements.txt, hashes required)"
"$PYTHON" -m pip install --no-cache-dir --disable-pip-version-check --require-hashes \
    --no-deps --only-binary=:all: -r "$SOURCE/requirements.txt"
"$PYTHON" -m pip list --disable-pip-version-check

step "done"
