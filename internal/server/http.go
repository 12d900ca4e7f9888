package server

import (
	"log/slog"
	"net/http"
	"time"
)

// Bounds of one connection. A client that sends its headers slowly, as a slowloris does, is cut
// off after ReadHeaderTimeout without holding anything but a goroutine; a body may take
// ReadTimeout (an import's 64 MiB over a slow link). WriteTimeout runs from the end of the
// headers, so it leaves room for the slowest body and the longest work after it (an import's),
// and the answer still goes out.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 60 * time.Second
	WriteTimeout      = ReadTimeout + importTimeout + 15*time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// HTTPServer returns the net/http server that serves Handler with the bounds above; the errors
// net/http reports itself (a bad TLS handshake, a hijacked connection) go to the log.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// InFlight is the number of requests being served.
func (s *Server) InFlight() int64 { return s.metrics.InFlight() }
