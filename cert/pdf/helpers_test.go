package pdf

import (
	"fmt"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

func producerCert() *cert.Certificate {
	return &cert.Certificate{Serial: "GP26000123", Product: "赣南脐橙 5kg装", Quantity: 120, Unit: trace.Box,
		Origin: "江西省赣州市寻乌县澄江镇", Issued: time.Date(2026, 11, 28, 1, 5, 0, 0, time.UTC),
		Producer: "寻乌县澄江脐橙专业合作社", Contact: "0797-4000000",
		Template: cert.Producer, Basis: cert.QualityControl | cert.SelfTested, Report: "ZJ-20261127-01"}
}

// unitLabels returns n unit-level labels of c with consecutive serials.
func unitLabels(c *cert.Certificate, n int) []Label {
	labels := make([]Label, n)
	for i := range labels {
		u := fmt.Sprintf("%06d", i+1)
		labels[i] = Label{Cert: c, Unit: u, Short: "trace.example.cn/c/" + c.Serial,
			QR: "https://trace.example.cn/01/06901234567892/10/XW-2026-001/21/" + u}
	}
	return labels
}
