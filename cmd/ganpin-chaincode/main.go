// Command ganpin-chaincode serves Ganpin's contract to Fabric peers.
//
// With CORE_CHAINCODE_ID_NAME (the chaincode package ID) and CHAINCODE_SERVER_ADDRESS
// (host:port to listen on) set, it runs as a chaincode server for the ccaas external
// builder: the peer connects to it. TLS is off unless CHAINCODE_TLS_KEY_FILE and
// CHAINCODE_TLS_CERT_FILE name a PEM key and certificate; CHAINCODE_TLS_CLIENT_CA_FILE
// then also requires the peer's client certificate to be signed by that CA.
// Without them it connects to the peer itself, as a peer-launched chaincode does.
package main

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/ganpin/ganpin/chaincode"
)

func main() {
	cc, err := contractapi.NewChaincode(&chaincode.SmartContract{})
	if err != nil {
		log.Fatalf("ganpin-chaincode: %v", err)
	}
	server, err := chaincodeServer(os.Getenv, cc)
	if err != nil {
		log.Fatalf("ganpin-chaincode: %v", err)
	}
	if server != nil {
		log.Printf("ganpin-chaincode: serving %s on %s (TLS %v)", server.CCID, server.Address, !server.TLSProps.Disabled)
		err = server.Start()
	} else {
		err = cc.Start()
	}
	if err != nil {
		log.Fatalf("ganpin-chaincode: %v", err)
	}
}

// chaincodeServer returns the chaincode-as-a-service server configured by the
// environment, or nil when the chaincode should connect to its peer instead.
func chaincodeServer(getenv func(string) string, cc shim.Chaincode) (*shim.ChaincodeServer, error) {
	id, addr := getenv("CORE_CHAINCODE_ID_NAME"), getenv("CHAINCODE_SERVER_ADDRESS")
	if id == "" || addr == "" {
		return nil, nil
	}
	tlsProps, err := tlsProperties(getenv)
	if err != nil {
		return nil, err
	}
	return &shim.ChaincodeServer{CCID: id, Address: addr, CC: cc, TLSProps: tlsProps}, nil
}

func tlsProperties(getenv func(string) string) (shim.TLSProperties, error) {
	keyFile, certFile, caFile := getenv("CHAINCODE_TLS_KEY_FILE"), getenv("CHAINCODE_TLS_CERT_FILE"), getenv("CHAINCODE_TLS_CLIENT_CA_FILE")
	if keyFile == "" && certFile == "" {
		if caFile != "" {
			return shim.TLSProperties{}, errors.New("CHAINCODE_TLS_CLIENT_CA_FILE needs CHAINCODE_TLS_KEY_FILE and CHAINCODE_TLS_CERT_FILE")
		}
		return shim.TLSProperties{Disabled: true}, nil
	}
	if keyFile == "" || certFile == "" {
		return shim.TLSProperties{}, errors.New("TLS needs both CHAINCODE_TLS_KEY_FILE and CHAINCODE_TLS_CERT_FILE")
	}
	props := shim.TLSProperties{}
	var err error
	if props.Key, err = os.ReadFile(keyFile); err != nil {
		return props, fmt.Errorf("tls key: %w", err)
	}
	if props.Cert, err = os.ReadFile(certFile); err != nil {
		return props, fmt.Errorf("tls certificate: %w", err)
	}
	if caFile != "" {
		if props.ClientCACerts, err = os.ReadFile(caFile); err != nil {
			return props, fmt.Errorf("tls client CA: %w", err)
		}
	}
	return props, nil
}
