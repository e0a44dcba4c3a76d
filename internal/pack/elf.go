package pack

import (
	"debug/elf"
	"fmt"
)

// CheckHandler reports whether path is what the Flex Consumption host can start: a statically
// linked linux/amd64 ELF executable. It catches a binary built for the build machine (a Mac, or
// arm64) or with cgo, which would otherwise fail only once deployed.
func CheckHandler(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("pack: handler %s is not an ELF binary (build it with GOOS=linux GOARCH=amd64): %w", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		return fmt.Errorf("pack: handler %s is built for %v, want x86-64 (GOARCH=amd64)", path, f.Machine)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("pack: handler %s is a %v, not an executable", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("pack: handler %s is dynamically linked: build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}
