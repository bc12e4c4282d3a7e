package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/ganpin/ganpin/chaincode"
)

func env(vars map[string]string) func(string) string {
	return func(key string) string { return vars[key] }
}

func TestChaincodeServer(t *testing.T) {
	cc, err := contractapi.NewChaincode(&chaincode.SmartContract{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	for _, f := range []string{key, cert} {
		if err := os.WriteFile(f, []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const id, addr = "ganpin_1.0:0123abcd", "127.0.0.1:9999"

	if s, err := chaincodeServer(env(map[string]string{"CORE_CHAINCODE_ID_NAME": id}), cc); s != nil || err != nil {
		t.Fatalf("without a server address: %v %v, want peer-launched mode", s, err)
	}

	s, err := chaincodeServer(env(map[string]string{"CORE_CHAINCODE_ID_NAME": id, "CHAINCODE_SERVER_ADDRESS": addr}), cc)
	if err != nil || s == nil || s.CCID != id || s.Address != addr || s.CC != cc || !s.TLSProps.Disabled {
		t.Fatalf("server mode: %+v %v", s, err)
	}

	s, err = chaincodeServer(env(map[string]string{"CORE_CHAINCODE_ID_NAME": id, "CHAINCODE_SERVER_ADDRESS": addr,
		"CHAINCODE_TLS_KEY_FILE": key, "CHAINCODE_TLS_CERT_FILE": cert}), cc)
	if err != nil || s.TLSProps.Disabled || string(s.TLSProps.Key) != key || string(s.TLSProps.Cert) != cert || s.TLSProps.ClientCACerts != nil {
		t.Fatalf("server mode with TLS: %+v %v", s, err)
	}

	for name, vars := range map[string]map[string]string{
		"key without certificate": {"CHAINCODE_TLS_KEY_FILE": key},
		"client CA without TLS":   {"CHAINCODE_TLS_CLIENT_CA_FILE": cert},
		"missing key file":        {"CHAINCODE_TLS_KEY_FILE": filepath.Join(dir, "none"), "CHAINCODE_TLS_CERT_FILE": cert},
	} {
		vars["CORE_CHAINCODE_ID_NAME"], vars["CHAINCODE_SERVER_ADDRESS"] = id, addr
		if _, err := chaincodeServer(env(vars), cc); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
