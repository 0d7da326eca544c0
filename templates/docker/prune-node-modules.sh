#!/bin/sh
# Removes from an installed node_modules what this platform never loads:
# onnxruntime-node's native binaries for other operating systems and CPUs.
set -eu
dir="${1:-node_modules}"
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch="$(uname -m)" ;;
esac
for napi in "$dir"/onnxruntime-node/bin/napi-v*; do
  [ -d "$napi" ] || continue
  for os in "$napi"/*; do
    [ "$(basename "$os")" = linux ] || rm -rf "$os"
  done
  for cpu in "$napi"/linux/*; do
    [ -e "$cpu" ] || continue
    [ "$(basename "$cpu")" = "$arch" ] || rm -rf "$cpu"
  done
done
