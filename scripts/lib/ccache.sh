# Sourced by scripts/build and scripts/test (from the checkout's root): where ccache keeps
# its cache, so that every clone on this machine, at any path, shares it.
#   CCACHE_DIR       default /var/cache/prescale/ccache (or ~/.cache/prescale/ccache when
#                    that cannot be created), outside the checkout: a fresh clone finds it
#   CCACHE_BASEDIR   default the checkout: ccache rewrites absolute paths under it to
#                    relative ones, so a clone elsewhere has the same compile commands
#   CCACHE_NOHASHDIR default 1: the build directory is not hashed either (debug info of a
#                    cached object keeps the compile directory of the clone that built it)
#   CCACHE_MAXSIZE   default 20G (a plain, an ASan+UBSan+fuzz and a TSan build)
# Each can be overridden from the environment.
if [ -z "${CCACHE_DIR:-}" ]; then
  CCACHE_DIR=/var/cache/prescale/ccache
  if ! mkdir -p "$CCACHE_DIR" 2>/dev/null || [ ! -w "$CCACHE_DIR" ]; then
    CCACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/prescale/ccache
  fi
fi
mkdir -p "$CCACHE_DIR"
export CCACHE_DIR
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-20G}

# ccache_counts: "HITS MISSES" so far in $CCACHE_DIR (for per-build deltas).
ccache_counts() {
  command -v ccache >/dev/null 2>&1 || { echo "0 0"; return; }
  ccache --print-stats 2>/dev/null |
    awk '$1 == "direct_cache_hit" || $1 == "preprocessed_cache_hit" { h += $2 }
         $1 == "cache_miss" { m += $2 } END { print h + 0, m + 0 }'
}
