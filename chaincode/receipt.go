package chaincode

// Receipt says where a committed transaction landed on a ledger, Fabric's or the
// embedded one. It lives here, beside the rules, so every ledger implementation can
// return it without depending on another.
type Receipt struct {
	TxID  string
	Block uint64 // number of the block that holds the transaction
}
