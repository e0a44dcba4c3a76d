package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

func TestNewCreatesItsTableAndToleratesAnExistingOne(t *testing.T) {
	f := newFixture(t, nil)
	prefix := strings.TrimSuffix(f.table, tableBaseName)
	pager := f.svc.NewListTablesPager(&aztables.ListTablesOptions{Filter: to.Ptr("TableName eq '" + f.table + "'")})
	page, err := pager.NextPage(t.Context())
	if err != nil {
		t.Fatalf("listing tables: %v", err)
	}
	if len(page.Tables) != 1 {
		t.Fatalf("New did not create table %s", f.table)
	}
	if _, err := New(t.Context(), f.svc, &Options{TablePrefix: prefix}); err != nil {
		t.Errorf("New on an existing table: %v", err)
	}
}

func TestNewRejectsBadTablePrefixes(t *testing.T) {
	svc, err := NewServiceClientFromConnectionString(testenv.StartAzurite(t).ConnectionString())
	if err != nil {
		t.Fatalf("NewServiceClientFromConnectionString: %v", err)
	}
	for _, prefix := range []string{"1abc", "a-b", "a_b", "ab'", strings.Repeat("a", 56)} {
		if _, err := New(t.Context(), svc, &Options{TablePrefix: prefix}); err == nil {
			t.Errorf("New accepted table prefix %q", prefix)
		}
	}
}

func TestConnectionStringErrorsDoNotEchoTheKey(t *testing.T) {
	const secret = "c2VjcmV0LWtleQ=="
	_, err := NewServiceClientFromConnectionString("AccountName=a;AccountKey=" + secret + ";Bogus")
	if err == nil {
		t.Fatal("a malformed connection string was accepted")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q reveals the account key", err)
	}
	if errors.Unwrap(err) == nil {
		t.Errorf("error %q does not wrap the SDK's", err)
	}
}
