#!/bin/sh
# Print the path of a Python that nnabla has wheels for (3.10, 3.9 or 3.8): the one given as
# the argument (make PYTHON=...), else the first found on PATH or among pyenv's versions.
# Fails with a clear message.
SUPPORTED="3.10 3.9 3.8"

run() {  # "<major>.<minor> <sys.executable>" of a Python that runs, else nothing
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2], sys.executable)' 2>/dev/null
}

if [ -n "${1:-}" ]; then
    if ! found=$(run "$1"); then
        echo "error: $1 does not run as a Python." >&2
        exit 1
    fi
    for v in $SUPPORTED; do
        if [ "${found%% *}" = "$v" ]; then echo "${found#* }"; exit 0; fi
    done
    echo "error: $1 is Python ${found%% *}; xaikit needs Python 3.10, 3.9 or 3.8 (nnabla has" \
         "no wheels for newer ones)." >&2
    exit 1
fi
for v in $SUPPORTED; do
    for cand in "python$v" \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python \
        /usr/bin/python"$v" /usr/local/bin/python"$v"; do
        # A pyenv shim exists on PATH but refuses to run: actually run each candidate.
        if found=$(run "$cand") && [ "${found%% *}" = "$v" ]; then
            echo "${found#* }"
            exit 0
        fi
    done
done
echo "error: xaikit needs Python 3.10, 3.9 or 3.8 (nnabla has no wheels for newer ones)." >&2
echo "       Install one (e.g. 'pyenv install 3.10') or run: make PYTHON=/path/to/python3.10" >&2
exit 1
