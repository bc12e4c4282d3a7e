// Package fakes holds counterfeiter fakes of the Fabric shim and contract API
// interfaces that the chaincode uses, for its unit tests. The fakes are generated
// against the module's own fabric-chaincode-go and fabric-contract-api-go versions;
// regenerate them with `go generate ./chaincode/internal/fakes` after upgrading.
package fakes

//go:generate go run github.com/maxbrunsfeld/counterfeiter/v6@v6.14.0 -o stub.go -fake-name ChaincodeStub github.com/hyperledger/fabric-chaincode-go/v2/shim.ChaincodeStubInterface
//go:generate go run github.com/maxbrunsfeld/counterfeiter/v6@v6.14.0 -o history.go -fake-name HistoryQueryIterator github.com/hyperledger/fabric-chaincode-go/v2/shim.HistoryQueryIteratorInterface
//go:generate go run github.com/maxbrunsfeld/counterfeiter/v6@v6.14.0 -o identity.go -fake-name ClientIdentity github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid.ClientIdentity
//go:generate go run github.com/maxbrunsfeld/counterfeiter/v6@v6.14.0 -o context.go -fake-name TransactionContext github.com/hyperledger/fabric-contract-api-go/v2/contractapi.TransactionContextInterface
