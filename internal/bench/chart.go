package bench

import (
	"fmt"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WriteCharts draws <date>-latency.svg (full-session latency by concurrency), <date>-coldstart.svg
// and <date>-memory.svg (the handler beside its peers) into dir.
func WriteCharts(r *Report, dir string) error {
	if len(r.Loads) > 0 {
		if err := latencyChart(r, filepath.Join(dir, r.Date+"-latency"+chartExt)); err != nil {
			return err
		}
	}
	if len(r.ColdStart) > 0 {
		names := make([]string, len(r.ColdStart))
		first, healthy, rss := plotter.Values{}, plotter.Values{}, plotter.Values{}
		for i, c := range r.ColdStart {
			names[i] = c.Name
			first, healthy = append(first, c.FirstAnswer.P50), append(healthy, c.Healthy.P50)
			rss = append(rss, mib(c.Idle.RSS))
		}
		if err := bars(filepath.Join(dir, r.Date+"-coldstart"+chartExt), "Cold start, p50 of "+strconv.Itoa(r.Settings.ColdRuns)+" runs",
			"ms", names, []string{"first GET /", "first 200 from /api/health"}, []plotter.Values{first, healthy}); err != nil {
			return err
		}
		m := r.HandlerMemory
		names = append(names, fmt.Sprintf("handler, %d sessions", m.SessionsBefore), "handler peak")
		rss = append(rss, mib(m.AfterLoad.RSS), mib(m.AfterLoad.Peak))
		if r.CPU != nil {
			names = append(names, "net/http floor, loaded")
			rss = append(rss, mib(r.CPU.FloorMemory.RSS))
		}
		if err := bars(filepath.Join(dir, r.Date+"-memory"+chartExt), "Resident memory (VmRSS; peak is VmHWM)", "MiB",
			names, []string{"RSS"}, []plotter.Values{rss}); err != nil {
			return err
		}
	}
	return nil
}

func latencyChart(r *Report, path string) error {
	p := plot.New()
	p.Title.Text = "Full session latency by concurrency"
	p.X.Label.Text = "concurrent users"
	p.Y.Label.Text = "ms"
	var lines []any
	for _, q := range []struct {
		name string
		get  func(Summary) float64
	}{{"p50", func(s Summary) float64 { return s.P50 }}, {"p95", func(s Summary) float64 { return s.P95 }},
		{"p99", func(s Summary) float64 { return s.P99 }}} {
		pts := plotter.XYs{}
		for _, l := range r.Loads {
			pts = append(pts, plotter.XY{X: float64(l.Concurrency), Y: q.get(l.Latency)})
		}
		lines = append(lines, q.name, pts)
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Min = 0
	var ticks []plot.Tick
	for _, l := range r.Loads {
		ticks = append(ticks, plot.Tick{Value: float64(l.Concurrency), Label: strconv.Itoa(l.Concurrency)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

// bars draws groups of bars, one group per name and one bar per series.
func bars(path, title, unit string, names, series []string, values []plotter.Values) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	w := vg.Points(18)
	for i, v := range values {
		b, err := plotter.NewBarChart(v, w)
		if err != nil {
			return err
		}
		b.Color = plotutil.Color(i)
		b.Offset = w * vg.Length(float64(i)-float64(len(values)-1)/2)
		p.Add(b)
		// The figures written on the bars: the peers differ by orders of magnitude.
		labels := make([]string, len(v))
		xys := make(plotter.XYs, len(v))
		for j, y := range v {
			labels[j] = strconv.FormatFloat(y, 'f', 1, 64)
			xys[j] = plotter.XY{X: float64(j), Y: y}
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return err
		}
		l.Offset = vg.Point{X: b.Offset - w/2}
		for k := range l.TextStyle {
			l.TextStyle[k].Font.Size = vg.Points(8)
		}
		p.Add(l)
		if len(series) > 1 {
			p.Legend.Add(series[i], b)
		}
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(names...)
	p.Y.Min, p.Y.Max = 0, p.Y.Max*1.2 // room for the legend and the figures
	return p.Save(vg.Length(2+1.4*float64(len(names)))*vg.Inch, 4*vg.Inch, path)
}

// chartExt is the charts' format (gonum/plot picks it from the file name; ".png" works too).
const chartExt = ".svg"
