# Shared preamble of the MPI end-to-end scripts (source it after `cd` to the repository root and after setting
# MPI_MISSING=fail or skip): paths, PASS/FAIL helpers, the MPICH check and the build of build/mpi/octet.
# The caller owns $T (a scratch folder it created) and its cleanup trap.
OCTET=${OCTET:-./octet}
MODEL=${MODEL:-models/octet-kjv.gguf}
PY=${PY:-/usr/bin/python3}
MPI=build/mpi/octet
fails=0
ok() { echo "PASS $1"; }
bad() { echo "FAIL $1"; fails=$((fails+1)); }
if ! command -v mpiexec >/dev/null || ! command -v mpicc >/dev/null; then
    if [ "${MPI_MISSING:-skip}" = fail ]; then
        echo "FAIL mpiexec/mpicc not found: install MPICH (tools/deps.sh test)"; exit 1
    fi
    echo "SKIP mpiexec/mpicc not found (install MPICH: tools/deps.sh test)"; exit 0
fi
if ! nice -n 10 make -s MPI=1 "$MPI" >"$T/make.log" 2>&1; then
    echo "FAIL make MPI=1 $MPI"; tail -20 "$T/make.log"; exit 1
fi
