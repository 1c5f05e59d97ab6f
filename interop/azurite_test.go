package interop

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"github.com/concord-go/concord"
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

// Azurite, the Azure Storage emulator (npm), with its published development
// account. Requests authenticate with an account SAS in the base URL's
// query, which concord adds to every request and never shows.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// startAzurite starts the Blob and Table services and returns their base
// URLs, each with an account SAS for its service.
func startAzurite(t *testing.T) (blob, table string) {
	blobPort, tablePort, queuePort := freePort(t), freePort(t), freePort(t)
	cmd := exec.Command(tool(t, "azurite"),
		"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(blobPort),
		"--tableHost", "127.0.0.1", "--tablePort", fmt.Sprint(tablePort),
		"--queueHost", "127.0.0.1", "--queuePort", fmt.Sprint(queuePort),
		"--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--silent")
	cmd.Dir = t.TempDir()
	blob = fmt.Sprintf("http://127.0.0.1:%d/%s", blobPort, azuriteAccount)
	table = fmt.Sprintf("http://127.0.0.1:%d/%s", tablePort, azuriteAccount)
	start(t, "azurite", cmd, func() bool { return answers(blob)() && answers(table)() })
	return blob + "?" + accountSAS(t, "b"), table + "?" + accountSAS(t, "t")
}

// accountSAS signs an account SAS (version 2020-10-02) for one service
// ("b" blob, "t" table) with every permission, valid until 2099.
func accountSAS(t *testing.T, service string) string {
	key, err := base64.StdEncoding.DecodeString(azuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	const perms, types, expiry, version = "rwdlacu", "sco", "2099-01-01T00:00:00Z", "2020-10-02"
	toSign := strings.Join([]string{azuriteAccount, perms, service, types, "", expiry, "", "", version, ""}, "\n")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(toSign))
	return url.Values{
		"sv": {version}, "ss": {service}, "srt": {types}, "sp": {perms}, "se": {expiry},
		"sig": {base64.StdEncoding.EncodeToString(mac.Sum(nil))},
	}.Encode()
}

// startAzuriteBlob and startAzuriteTable share one emulator per test.
func startAzuriteBlob(t *testing.T) string {
	blob, _ := startAzurite(t)
	return blob
}

func startAzuriteTable(t *testing.T) string {
	_, table := startAzurite(t)
	return table
}

// TestAzureTableCreateAtIsAnUpsert checks what the README says Azure Table
// cannot do: it answers PUT with If-None-Match: * by replacing the entity,
// so CreateAt there is not create-only (use Create, a POST).
func TestAzureTableCreateAtIsAnUpsert(t *testing.T) {
	var table server
	for _, s := range servers {
		if s.name == "Azurite 3.35 Table" {
			table = s
		}
	}
	base := table.start(t)
	ctx := context.Background()
	c, err := concord.New(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := table.setup(ctx, c); err != nil {
		t.Fatal(err)
	}
	r := concord.NewResource[doc](c, table.collection, table.resourceOptions...)
	if _, err := r.CreateAt(ctx, "upsert", doc{Name: "first"}); err != nil {
		t.Fatal(err)
	}
	_, err = r.CreateAt(ctx, "upsert", doc{Name: "second"})
	res, gerr := r.Get(ctx, "upsert")
	if err != nil || gerr != nil || res.Value.Name != "second" {
		t.Errorf("second CreateAt = %v, then the entity is %+v (%v); the README says Azure Table upserts here: if this changed, update it", err, res, gerr)
	}
}
