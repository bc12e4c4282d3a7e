#!/usr/bin/env bash
# Deploys the ganpin chaincode as a service on the network that network.sh started:
# builds the ccaas package (metadata.json and code.tar.gz holding connection.json),
# installs it on the peer, starts ganpin-chaincode with CORE_CHAINCODE_ID_NAME set to
# the package ID, then approves and commits the chaincode definition on the channel.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
check_fabric

chaincode_binary() {
	if [ -n "${GANPIN_CHAINCODE:-}" ]; then
		echo "$GANPIN_CHAINCODE"
	elif command -v ganpin-chaincode; then
		:
	else
		command -v go >/dev/null || die "ganpin-chaincode is not on PATH and go is not installed to build it"
		(cd "$REPO_DIR" && go build -o "$NETWORK_DIR/bin/ganpin-chaincode" ./cmd/ganpin-chaincode)
		echo "$NETWORK_DIR/bin/ganpin-chaincode"
	fi
}

pkg_dir=$NETWORK_DIR/chaincode
pkg=$pkg_dir/$CHAINCODE_NAME.tgz
echo "packaging and installing chaincode $CHAINCODE_NAME (ccaas, $CHAINCODE_SERVER_ADDRESS)"
rm -rf "$pkg_dir"
mkdir -p "$pkg_dir"
cp "$DEPLOY_DIR/metadata.json" "$DEPLOY_DIR/connection.json" "$pkg_dir/"
tar -C "$pkg_dir" -czf "$pkg_dir/code.tar.gz" connection.json
tar -C "$pkg_dir" -czf "$pkg" metadata.json code.tar.gz
as_admin peer lifecycle chaincode install "$pkg"
package_id=$(as_admin peer lifecycle chaincode calculatepackageid "$pkg")

bin=$(chaincode_binary)
echo "starting $bin as $package_id"
CORE_CHAINCODE_ID_NAME=$package_id CHAINCODE_SERVER_ADDRESS=$CHAINCODE_SERVER_ADDRESS \
	start chaincode "$bin"
wait_for chaincode "$CHAINCODE_SERVER_ADDRESS"

echo "approving and committing the chaincode definition on $CHANNEL"
orderer=(-o "$ORDERER_ADDRESS" --tls --cafile "$ORDERER_CA")
definition=(--channelID "$CHANNEL" --name "$CHAINCODE_NAME" --version "$CHAINCODE_VERSION" --sequence 1)
retry as_admin peer lifecycle chaincode approveformyorg "${orderer[@]}" "${definition[@]}" --package-id "$package_id"
retry as_admin peer lifecycle chaincode commit "${orderer[@]}" "${definition[@]}" \
	--peerAddresses "$PEER_ADDRESS" --tlsRootCertFiles "$PEER_CA"
as_admin peer lifecycle chaincode querycommitted --channelID "$CHANNEL" --name "$CHAINCODE_NAME"
