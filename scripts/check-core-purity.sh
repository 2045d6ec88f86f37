#!/usr/bin/env bash
# Proves that src/core is pure: no web crates, no clock reads, no I/O.
#  1. the library built for the host with no features pulls no web crate at all;
#  2. no source file under src/core names a web crate or reads a clock or does I/O.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
deps=$(cargo tree -p tokenwarden --no-default-features -e normal --prefix none --target x86_64-unknown-linux-gnu 2>/dev/null | awk '{print $1}' | sort -u)
for crate in wasm-bindgen web-sys js-sys gloo-timers gloo-net wasm-bindgen-futures; do
  if grep -qx "$crate" <<<"$deps"; then echo "core purity: $crate is a host dependency"; fail=1; fi
done
if grep -rnE '\b(wasm_bindgen|web_sys|js_sys|gloo(_[a-z]+)?)::|SystemTime|Instant::now|Utc::now|Local::now|std::(fs|net|thread|process)\b' src/core; then
  echo "core purity: the lines above use a web crate, a clock, or I/O inside src/core"; fail=1
fi
if [ $fail -ne 0 ]; then exit 1; fi
echo "core purity: ok (no web crate among $(wc -l <<<"$deps") host dependencies; no clock or I/O in src/core)"
