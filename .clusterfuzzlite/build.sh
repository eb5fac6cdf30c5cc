#!/bin/bash -eu
# Builds the atheris target for ClusterFuzzLite / OSS-Fuzz: $OUT/scenario_fuzzer with
# its seed corpus (corpora/atheris, zipped here: no zip is committed), its dictionary (written by
# the harness: harness.generate.decode.write_dictionary) and its libFuzzer options.
cd "$SRC/scm-harness"
pip3 install .

compile_python_fuzzer harness/fuzz/scenario_fuzzer.py

python3 -c 'import sys; from harness.generate.decode import write_dictionary; write_dictionary(sys.argv[1])' \
    "$OUT/scenario_fuzzer.dict"
(cd corpora/atheris && find . -maxdepth 1 -type f ! -name 'README*' -printf '%f\n' | sort \
    | xargs python3 -m zipfile -c "$OUT/scenario_fuzzer_seed_corpus.zip")
cp .clusterfuzzlite/scenario_fuzzer.options "$OUT/"
