# shellcheck shell=bash disable=SC2034 # the settings are used by the scripts that source this file
# Settings of Ganpin's one-organisation Fabric network, sourced by network.sh and
# chaincode.sh. Fabric's binaries (cryptogen, configtxgen, orderer, peer, osnadmin)
# must be on PATH; nothing here downloads them.
#
# Overrides:
#   GANPIN_FABRIC_DIR  where the network keeps its crypto material, ledgers, logs and
#                      PIDs (default: $TMPDIR/ganpin-fabric)
#   FABRIC_CFG_DIR     directory with Fabric's default core.yaml and orderer.yaml
#                      (default: ../config beside the peer binary, as in Fabric's
#                      release archive)
#   CCAAS_BUILDER      Fabric's chaincode-as-a-service external builder
#                      (default: ../builders/ccaas beside the peer binary)
#   GANPIN_CHAINCODE   the ganpin-chaincode binary (default: from PATH, else built
#                      with go from this repository)

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$DEPLOY_DIR/../.." && pwd)
NETWORK_DIR=${GANPIN_FABRIC_DIR:-${TMPDIR:-/tmp}/ganpin-fabric}

CHANNEL=ganpin
CHAINCODE_NAME=ganpin
CHAINCODE_VERSION=1.0
CHAINCODE_SERVER_ADDRESS=127.0.0.1:9999 # as in connection.json

ORDERER_ADDRESS=127.0.0.1:7050       # as in configtx.yaml
ORDERER_ADMIN_ADDRESS=127.0.0.1:7053 # channel participation API, for osnadmin
ORDERER_OPERATIONS_ADDRESS=127.0.0.1:9443
PEER_ADDRESS=127.0.0.1:7051 # as in configtx.yaml
PEER_CHAINCODE_ADDRESS=127.0.0.1:7052
PEER_OPERATIONS_ADDRESS=127.0.0.1:9444
PEER_NAME=peer0.org.ganpin.example
MSP_ID=GanpinMSP

CRYPTO_DIR=$NETWORK_DIR/crypto
ORDERER_DIR=$CRYPTO_DIR/ordererOrganizations/ganpin.example/orderers/orderer.ganpin.example
ORG_DIR=$CRYPTO_DIR/peerOrganizations/org.ganpin.example
PEER_DIR=$ORG_DIR/peers/$PEER_NAME
ADMIN_MSP=$ORG_DIR/users/Admin@org.ganpin.example/msp
CLIENT_MSP=$ORG_DIR/users/User1@org.ganpin.example/msp
ORDERER_CA=$ORDERER_DIR/tls/ca.crt
PEER_CA=$PEER_DIR/tls/ca.crt

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# Fabric's release archive has bin/, config/ and builders/ccaas/ side by side.
if peer_bin=$(command -v peer); then
	fabric_home=$(dirname "$(dirname "$(readlink -f "$peer_bin")")")
	FABRIC_CFG_DIR=${FABRIC_CFG_DIR:-$fabric_home/config}
	CCAAS_BUILDER=${CCAAS_BUILDER:-$fabric_home/builders/ccaas}
fi
FABRIC_CFG_DIR=${FABRIC_CFG_DIR:-}
CCAAS_BUILDER=${CCAAS_BUILDER:-}

# check_fabric checks that Fabric's binaries, configuration and ccaas builder are there.
check_fabric() {
	local bin
	for bin in cryptogen configtxgen orderer peer osnadmin; do
		command -v "$bin" >/dev/null || die "Fabric's $bin binary is not on PATH"
	done
	if [ ! -f "$FABRIC_CFG_DIR/core.yaml" ] || [ ! -f "$FABRIC_CFG_DIR/orderer.yaml" ]; then
		die "no core.yaml and orderer.yaml in '$FABRIC_CFG_DIR'; set FABRIC_CFG_DIR"
	fi
	[ -x "$CCAAS_BUILDER/bin/detect" ] || die "no ccaas external builder in '$CCAAS_BUILDER'; set CCAAS_BUILDER"
}

# as_admin runs a peer CLI command as the organisation's admin, against the peer.
as_admin() {
	FABRIC_CFG_PATH=$FABRIC_CFG_DIR \
		CORE_PEER_LOCALMSPID=$MSP_ID \
		CORE_PEER_MSPCONFIGPATH=$ADMIN_MSP \
		CORE_PEER_ADDRESS=$PEER_ADDRESS \
		CORE_PEER_TLS_ENABLED=true \
		CORE_PEER_TLS_ROOTCERT_FILE=$PEER_CA \
		FABRIC_LOGGING_SPEC=grpc=error:warning \
		"$@"
}

# start runs a command in the background with its log and PID in the network directory.
start() {
	local name=$1
	shift
	nohup "$@" >"$NETWORK_DIR/logs/$name.log" 2>&1 &
	echo $! >"$NETWORK_DIR/pids/$name.pid"
}

# wait_for waits until host:port accepts connections, or the named process dies.
wait_for() {
	local name=$1 addr=$2 pid
	pid=$(cat "$NETWORK_DIR/pids/$name.pid")
	for _ in $(seq 1 120); do
		kill -0 "$pid" 2>/dev/null || die "$name exited; see $NETWORK_DIR/logs/$name.log"
		if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then
			return 0
		fi
		sleep 0.5
	done
	die "$name does not listen on $addr; see $NETWORK_DIR/logs/$name.log"
}

# check_free dies if something already listens on one of the host:port addresses:
# wait_for would take it for the node it waits for.
check_free() {
	local addr
	for addr in "$@"; do
		if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then
			die "$addr is in use by another process; stop it, or the network that uses it"
		fi
	done
}

# retry runs a command until it succeeds, up to 15 times, 2 s apart: the Raft leader
# and the peer's view of the channel take a few seconds to settle.
retry() {
	local n
	for n in $(seq 1 15); do
		"$@" && return 0
		echo "retrying ($n): $*" >&2
		sleep 2
	done
	die "failed: $*"
}
