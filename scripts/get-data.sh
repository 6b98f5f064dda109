#!/usr/bin/env bash
# Makes data/ hold IMDb and the BERT vocab. Real data never goes in the repo:
#  - if ../shared/data exists (this project's machines and CI), data/ becomes a link to it;
#  - otherwise the official IMDb archive and the bert-base-uncased vocab are downloaded into data/ and their
#    sha256 checked against the published values (the loader reads the aclImdb/ folder layout directly).
# Usage: scripts/get-data.sh [--link-only]
#   --link-only  only the first step: link data -> ../shared/data when that exists and data/ does not; never
#                downloads, and exits 0 either way (scripts/test.sh: the data tests then run, or skip).
set -euo pipefail
cd "$(dirname "$0")/.."
link_only=0
case "${1:-}" in
  --link-only) link_only=1 ;;
  "") ;;
  *) echo "usage: scripts/get-data.sh [--link-only]" >&2; exit 2 ;;
esac
if [ -e data ]; then echo "get-data: data/ is present"; exit 0; fi
if [ -L data ]; then echo "get-data: data is a broken link ($(readlink data)): remove it or fix its target" >&2; [ "$link_only" -eq 1 ] && exit 0; exit 1; fi
if [ -d ../shared/data ]; then
  ln -s ../shared/data data
  echo "get-data: linked data -> ../shared/data"
  exit 0
fi
if [ "$link_only" -eq 1 ]; then
  echo "get-data: no data/ and no ../shared/data: nothing linked (the tests that need data skip themselves)"
  exit 0
fi
mkdir -p data.partial/vocab
fetch() { curl -fL --retry 3 -o "$2" "$1" || { echo "get-data: cannot download $1"; echo "hint: put aclImdb/ and vocab/bert-base-uncased-vocab.txt under data/ by hand"; exit 1; }; }
fetch https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz data.partial/aclImdb_v1.tar.gz
echo "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe  data.partial/aclImdb_v1.tar.gz" | sha256sum -c -
tar -xzf data.partial/aclImdb_v1.tar.gz -C data.partial && rm data.partial/aclImdb_v1.tar.gz
fetch https://huggingface.co/bert-base-uncased/resolve/main/vocab.txt data.partial/vocab/bert-base-uncased-vocab.txt
echo "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  data.partial/vocab/bert-base-uncased-vocab.txt" | sha256sum -c -
mv data.partial data
echo "get-data: downloaded IMDb (aclImdb/) and the vocab into data/"
