#!/bin/sh
# Print the path of a Python that nnabla has wheels for (3.10, else 3.9, else 3.8).
# Looks on PATH first, then among pyenv's installed versions; fails with a clear message.
for v in 3.10 3.9 3.8; do
    for cand in "python$v" \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python \
        /usr/bin/python"$v" /usr/local/bin/python"$v"; do
        # A pyenv shim exists on PATH but refuses to run: actually run each candidate.
        if path=$("$cand" -c 'import sys; print(sys.executable)' 2>/dev/null); then
            echo "$path"
            exit 0
        fi
    done
done
echo "error: xaikit needs Python 3.10, 3.9 or 3.8 (nnabla has no wheels for newer ones)." >&2
echo "       Install one (e.g. 'pyenv install 3.10') or run: make PYTHON=/path/to/python3.10" >&2
exit 1
