package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Memory is a process's resident set from /proc/<pid>/status, in KiB.
type Memory struct {
	RSS  int64 `json:"rssKiB"` // VmRSS: resident now
	Peak int64 `json:"hwmKiB"` // VmHWM: the most resident since the process started
}

// ReadMemory reads /proc/<pid>/status (Linux only).
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	return ParseStatus(string(b))
}

// ParseStatus reads VmRSS and VmHWM ("VmRSS:\t   12345 kB") from the text of /proc/<pid>/status;
// an error when either is missing.
func ParseStatus(text string) (Memory, error) {
	var m Memory
	found := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return m, fmt.Errorf("/proc status %s: want \"<n> kB\", got %q", name, value)
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc status %s: %w", name, err)
		}
		if name == "VmRSS" {
			m.RSS = n
		} else {
			m.Peak = n
		}
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("/proc status: VmRSS or VmHWM missing")
	}
	return m, nil
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux
// architecture Go supports (the kernel's ABI; sysconf(_SC_CLK_TCK) would need cgo).
const clockTicks = 100

// ReadCPU is the CPU the process has used so far (user + system), from /proc/<pid>/stat.
func ReadCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseStat(string(b))
}

// ParseStat reads utime + stime (fields 14 and 15) from the text of /proc/<pid>/stat. The
// command name (field 2) is in parentheses and may hold spaces and parentheses itself, so the
// fields are counted from its last ')'.
func ParseStat(text string) (time.Duration, error) {
	end := strings.LastIndexByte(text, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc stat: no command name")
	}
	// After ")": field 3 (state) is the first.
	fields := strings.Fields(text[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // fields 14 and 15
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
