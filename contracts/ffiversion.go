//go:build consumer || provider

package contracts

/*
#cgo LDFLAGS: -lpact_ffi
const char *pactffi_version(void);
*/
import "C"

// ffiVersion is the version the linked libpact_ffi reports.
func ffiVersion() string {
	// The string is static inside the library; it must not be freed.
	return C.GoString(C.pactffi_version())
}
