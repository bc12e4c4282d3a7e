#!/usr/bin/env bash
# Stands up Ganpin's one-organisation Fabric network from Fabric's binaries on PATH,
# without Docker: one Raft orderer and one peer on 127.0.0.1, the channel joined
# through the orderer's channel participation API (osnadmin), and the ganpin
# chaincode deployed as a service (chaincode.sh).
#
#   network.sh up     generate crypto material and the channel, start the nodes,
#                     join the channel and deploy the chaincode (from scratch)
#   network.sh configure REGULATOR_MSP
#                     configure the contract once, as the organisation's admin:
#                     GanpinMSP becomes the operator, REGULATOR_MSP the regulator
#   network.sh invoke FUNCTION [ARG...]
#                     submit a transaction of the contract as the admin
#   network.sh query FUNCTION [ARG...]
#                     evaluate a read-only function of the contract on the peer
#   network.sh down   stop the processes this script started
#   network.sh clean  stop them and remove the network directory
#
# See env.sh for the settings and docs/fabric.md for the steps.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

running() {
	local f
	for f in "$NETWORK_DIR"/pids/*.pid; do
		[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
	done
	return 1
}

generate() {
	echo "generating crypto material and the channel's genesis block in $NETWORK_DIR"
	rm -rf "$NETWORK_DIR"
	mkdir -p "$NETWORK_DIR"/{logs,pids,data}
	cryptogen generate --config="$DEPLOY_DIR/crypto-config.yaml" --output="$CRYPTO_DIR" >/dev/null
	cp "$DEPLOY_DIR/configtx.yaml" "$NETWORK_DIR/"
	FABRIC_CFG_PATH=$NETWORK_DIR configtxgen -profile GanpinChannel -channelID "$CHANNEL" \
		-outputBlock "$NETWORK_DIR/$CHANNEL.block" 2>"$NETWORK_DIR/logs/configtxgen.log"
}

start_orderer() {
	echo "starting the orderer on $ORDERER_ADDRESS"
	FABRIC_CFG_PATH=$FABRIC_CFG_DIR \
		FABRIC_LOGGING_SPEC=INFO \
		ORDERER_GENERAL_LISTENADDRESS=${ORDERER_ADDRESS%:*} \
		ORDERER_GENERAL_LISTENPORT=${ORDERER_ADDRESS##*:} \
		ORDERER_GENERAL_LOCALMSPID=OrdererMSP \
		ORDERER_GENERAL_LOCALMSPDIR="$ORDERER_DIR/msp" \
		ORDERER_GENERAL_TLS_ENABLED=true \
		ORDERER_GENERAL_TLS_PRIVATEKEY="$ORDERER_DIR/tls/server.key" \
		ORDERER_GENERAL_TLS_CERTIFICATE="$ORDERER_DIR/tls/server.crt" \
		ORDERER_GENERAL_TLS_ROOTCAS="$ORDERER_DIR/tls/ca.crt" \
		ORDERER_GENERAL_BOOTSTRAPMETHOD=none \
		ORDERER_CHANNELPARTICIPATION_ENABLED=true \
		ORDERER_ADMIN_LISTENADDRESS=$ORDERER_ADMIN_ADDRESS \
		ORDERER_ADMIN_TLS_ENABLED=false \
		ORDERER_OPERATIONS_LISTENADDRESS=$ORDERER_OPERATIONS_ADDRESS \
		ORDERER_FILELEDGER_LOCATION="$NETWORK_DIR/data/orderer" \
		ORDERER_CONSENSUS_WALDIR="$NETWORK_DIR/data/orderer/etcdraft/wal" \
		ORDERER_CONSENSUS_SNAPDIR="$NETWORK_DIR/data/orderer/etcdraft/snapshot" \
		start orderer orderer
	wait_for orderer "$ORDERER_ADMIN_ADDRESS"
}

start_peer() {
	echo "starting the peer on $PEER_ADDRESS (no Docker; chaincode as a service)"
	FABRIC_CFG_PATH=$FABRIC_CFG_DIR \
		FABRIC_LOGGING_SPEC=INFO \
		CORE_PEER_ID=$PEER_NAME \
		CORE_PEER_ADDRESS=$PEER_ADDRESS \
		CORE_PEER_LISTENADDRESS=$PEER_ADDRESS \
		CORE_PEER_CHAINCODEADDRESS=$PEER_CHAINCODE_ADDRESS \
		CORE_PEER_CHAINCODELISTENADDRESS=$PEER_CHAINCODE_ADDRESS \
		CORE_PEER_GOSSIP_EXTERNALENDPOINT=$PEER_ADDRESS \
		CORE_PEER_LOCALMSPID=$MSP_ID \
		CORE_PEER_MSPCONFIGPATH="$PEER_DIR/msp" \
		CORE_PEER_TLS_ENABLED=true \
		CORE_PEER_TLS_CERT_FILE="$PEER_DIR/tls/server.crt" \
		CORE_PEER_TLS_KEY_FILE="$PEER_DIR/tls/server.key" \
		CORE_PEER_TLS_ROOTCERT_FILE="$PEER_DIR/tls/ca.crt" \
		CORE_PEER_FILESYSTEMPATH="$NETWORK_DIR/data/peer" \
		CORE_PEER_GATEWAY_ENABLED=true \
		CORE_LEDGER_SNAPSHOTS_ROOTDIR="$NETWORK_DIR/data/peer/snapshots" \
		CORE_LEDGER_HISTORY_ENABLEHISTORYDATABASE=true \
		CORE_OPERATIONS_LISTENADDRESS=$PEER_OPERATIONS_ADDRESS \
		CORE_VM_ENDPOINT='' \
		CORE_CHAINCODE_EXTERNALBUILDERS="[{name: ccaas_builder, path: $CCAAS_BUILDER, propagateEnvironment: [CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG]}]" \
		start peer peer node start
	wait_for peer "$PEER_ADDRESS"
}

join_channel() {
	echo "joining the orderer and the peer to channel $CHANNEL"
	osnadmin channel join --channelID "$CHANNEL" --config-block "$NETWORK_DIR/$CHANNEL.block" -o "$ORDERER_ADMIN_ADDRESS" >/dev/null
	retry as_admin peer channel join -b "$NETWORK_DIR/$CHANNEL.block"
}

# client_env writes the settings a Ganpin node needs to reach the network as the
# organisation's client user (the GANPIN_FABRIC_* variables `ganpin serve` reads).
client_env() {
	cat >"$NETWORK_DIR/client.env" <<ENV
GANPIN_FABRIC_PEER=$PEER_ADDRESS
GANPIN_FABRIC_TLS_CA=$PEER_CA
GANPIN_FABRIC_SERVER_NAME=$PEER_NAME
GANPIN_FABRIC_MSP=$MSP_ID
GANPIN_FABRIC_CERT=$(ls "$CLIENT_MSP"/signcerts/*.pem)
GANPIN_FABRIC_KEY=$(ls "$CLIENT_MSP"/keystore/*)
GANPIN_FABRIC_CHANNEL=$CHANNEL
GANPIN_FABRIC_CHAINCODE=$CHAINCODE_NAME
ENV
	echo "client settings: $NETWORK_DIR/client.env"
}

# cc_args prints the peer CLI's -c argument for a function call: {"Args":[...]}.
cc_args() {
	local a json='{"Args":['
	for a in "$@"; do
		a=${a//\\/\\\\}
		a=${a//\"/\\\"}
		a=${a//$'\n'/\\n}
		json+="\"$a\","
	done
	echo "${json%,}]}"
}

# invoke submits a transaction of the contract as the organisation's admin and
# waits for its commit; query evaluates one on the peer.
invoke() {
	check_fabric
	[ -f "$NETWORK_DIR/client.env" ] || die "no network in $NETWORK_DIR; run '$0 up' first"
	as_admin peer chaincode invoke -o "$ORDERER_ADDRESS" --tls --cafile "$ORDERER_CA" \
		--channelID "$CHANNEL" --name "$CHAINCODE_NAME" \
		--peerAddresses "$PEER_ADDRESS" --tlsRootCertFiles "$PEER_CA" --waitForEvent \
		-c "$(cc_args "$@")"
	echo "$1: committed"
}

query() {
	check_fabric
	[ -f "$NETWORK_DIR/client.env" ] || die "no network in $NETWORK_DIR; run '$0 up' first"
	as_admin peer chaincode query --channelID "$CHANNEL" --name "$CHAINCODE_NAME" -c "$(cc_args "$@")"
}

down() {
	local f pid
	for f in "$NETWORK_DIR"/pids/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if kill "$pid" 2>/dev/null; then
			echo "stopping $(basename "$f" .pid) ($pid)"
			for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		fi
		rm -f "$f"
	done
}

case "${1:-}" in
up)
	check_fabric
	! running || die "the network in $NETWORK_DIR is running; run '$0 down' first"
	check_free "$ORDERER_ADDRESS" "$ORDERER_ADMIN_ADDRESS" "$ORDERER_OPERATIONS_ADDRESS" "$PEER_ADDRESS" \
		"$PEER_CHAINCODE_ADDRESS" "$PEER_OPERATIONS_ADDRESS" "$CHAINCODE_SERVER_ADDRESS"
	generate
	start_orderer
	start_peer
	join_channel
	"$DEPLOY_DIR/chaincode.sh"
	client_env
	echo "the network is up; stop it with: $0 down"
	;;
configure)
	[ $# -eq 2 ] || die "usage: $0 configure REGULATOR_MSP"
	invoke Configure "$2"
	;;
invoke | query)
	[ $# -ge 2 ] || die "usage: $0 $1 FUNCTION [ARG...]"
	cmd=$1
	shift
	"$cmd" "$@"
	;;
down) down ;;
clean)
	down
	rm -rf "$NETWORK_DIR"
	;;
*)
	echo "usage: $0 up | configure REGULATOR_MSP | invoke|query FUNCTION [ARG...] | down | clean" >&2
	exit 2
	;;
esac
