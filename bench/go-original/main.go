// Command go-original is the ORIGINAL framegate design rebuilt for side-by-side benchmarks
// (bench/vs-go.sh): a WebSocket server in front of a round-robin gRPC client, one goroutine per
// request, the wire format of the contract's section 2 (v1: RENDER requests, FRAME/ERROR replies),
// the command line of section 4. It is a baseline to measure framegate against, not a product:
// no health checks, no retries, no scheduler, no HTTP endpoints besides /ws.
//
// Built from Debian's Go packages only (GOPATH mode, see bench/vs-go.sh).
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

const (
	typeRender   = 1
	typeFrame    = 2
	typeError    = 3
	reqHeader    = 12
	replyHeader  = 28
	renderMethod = "/framegate.v1.FrameService/Render"
	maxMessage   = 1 << 20
)

// rawCodec hands the gRPC library bytes we packed ourselves (protowire), so no generated code
// is needed.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

type pool struct {
	conns []*grpc.ClientConn
	addrs []string
	next  uint64
}

func (p *pool) pick() (*grpc.ClientConn, string) {
	i := atomic.AddUint64(&p.next, 1) - 1
	k := int(i % uint64(len(p.conns)))
	return p.conns[k], p.addrs[k]
}

type reply struct {
	frame, width, height, format uint32
	image                        []byte
}

func packRequest(model string, frame uint32, input []byte) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, model)
	if frame != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(frame))
	}
	if len(input) > 0 {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, input)
	}
	return b
}

func unpackReply(b []byte) (reply, error) {
	var r reply
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return r, protowire.ParseError(m)
			}
			r.image, b = v, b[m:]
			continue
		case typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return r, protowire.ParseError(m)
			}
			b = b[m:]
			switch num {
			case 1:
				r.frame = uint32(v)
			case 3:
				r.format = uint32(v)
			case 4:
				r.width = uint32(v)
			case 5:
				r.height = uint32(v)
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return r, protowire.ParseError(m)
		}
		b = b[m:]
	}
	return r, nil
}

func encodeReply(typ byte, code uint16, id, frame uint32, grpcUs, totalUs uint32, r *reply,
	backend string, payload []byte) []byte {
	out := make([]byte, replyHeader+len(backend)+len(payload))
	out[0] = typ
	out[1] = byte(len(backend))
	binary.LittleEndian.PutUint16(out[2:], code)
	binary.LittleEndian.PutUint32(out[4:], id)
	binary.LittleEndian.PutUint32(out[8:], frame)
	binary.LittleEndian.PutUint32(out[12:], grpcUs)
	binary.LittleEndian.PutUint32(out[16:], totalUs)
	if r != nil {
		binary.LittleEndian.PutUint16(out[20:], uint16(r.width))
		binary.LittleEndian.PutUint16(out[22:], uint16(r.height))
		out[24] = byte(r.format)
		out[25] = 1
	}
	copy(out[replyHeader:], backend)
	copy(out[replyHeader+len(backend):], payload)
	return out
}

type session struct {
	ws *websocket.Conn
	mu sync.Mutex
}

func (s *session) send(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.ws.WriteMessage(websocket.BinaryMessage, b)
}

func render(p *pool, s *session, msg []byte, logFrames bool, timeout time.Duration) {
	start := time.Now()
	id := binary.LittleEndian.Uint32(msg[4:])
	frame := binary.LittleEndian.Uint32(msg[8:])
	mlen := int(msg[1])
	model := string(msg[reqHeader : reqHeader+mlen])
	req := packRequest(model, frame, msg[reqHeader+mlen:])
	cc, addr := p.pick()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	var out []byte
	t0 := time.Now()
	err := cc.Invoke(ctx, renderMethod, &req, &out, grpc.ForceCodec(rawCodec{}))
	cancel()
	grpcUs := uint32(time.Since(t0).Microseconds())
	if err != nil {
		st := status.Convert(err)
		s.send(encodeReply(typeError, uint16(st.Code()), id, frame, grpcUs,
			uint32(time.Since(start).Microseconds()), nil, addr, []byte(st.Message())))
		return
	}
	r, err := unpackReply(out)
	if err != nil {
		s.send(encodeReply(typeError, 13, id, frame, grpcUs,
			uint32(time.Since(start).Microseconds()), nil, addr, []byte("bad reply")))
		return
	}
	s.send(encodeReply(typeFrame, 0, id, frame, grpcUs, uint32(time.Since(start).Microseconds()),
		&r, addr, r.image))
	if logFrames {
		log.Printf("✅ %s frame %d [%s]: gRPC=%dms total=%dms size=%d bytes", model, frame, addr,
			grpcUs/1000, time.Since(start).Milliseconds(), len(r.image))
	}
}

func invalid(s *session, msg []byte) {
	var id, frame uint32
	if len(msg) >= reqHeader {
		id = binary.LittleEndian.Uint32(msg[4:])
		frame = binary.LittleEndian.Uint32(msg[8:])
	}
	s.send(encodeReply(typeError, 3, id, frame, 0, 0, nil, "", []byte("invalid request")))
}

func serveWS(p *pool, logFrames bool, timeout time.Duration) http.HandlerFunc {
	up := websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		Subprotocols:    []string{"framegate.v1"},
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ws.SetReadLimit(maxMessage)
		s := &session{ws: ws}
		defer ws.Close()
		for {
			typ, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if typ != websocket.BinaryMessage {
				s.mu.Lock()
				_ = ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseUnsupportedData, "binary only"),
					time.Now().Add(time.Second))
				s.mu.Unlock()
				return
			}
			if len(msg) < reqHeader || msg[0] != typeRender || msg[1] == 0 ||
				reqHeader+int(msg[1]) > len(msg) || binary.LittleEndian.Uint16(msg[2:]) != 0 {
				invalid(s, msg)
				continue
			}
			go render(p, s, msg, logFrames, timeout)
		}
	}
}

func main() {
	wsPort := flag.Int("ws-port", 8086, "port for the WebSocket server")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	startPort := flag.Int("start-port", 50051, "first backend port (range mode)")
	numServers := flag.Int("num-servers", 1, "number of backends (range mode)")
	addrs := flag.String("grpc-addrs", "", "comma-separated backend addresses; overrides range mode")
	logFrames := flag.String("log-frames", "on", "on or off: one log line per reply")
	timeoutMs := flag.Int("timeout-ms", 1000, "deadline of one backend call")
	flag.Parse()

	var list []string
	if *addrs != "" {
		list = strings.Split(*addrs, ",")
	} else {
		for i := 0; i < *numServers; i++ {
			list = append(list, fmt.Sprintf("localhost:%d", *startPort+i))
		}
	}
	p := &pool{}
	for _, a := range list {
		cc, err := grpc.Dial(a, grpc.WithInsecure())
		if err != nil {
			log.Fatalf("dial %s: %v", a, err)
		}
		p.conns = append(p.conns, cc)
		p.addrs = append(p.addrs, a)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, fmt.Sprint(*wsPort)))
	if err != nil {
		log.Fatal(err)
	}
	// The same line framegate prints, so the benchmark scripts find the port the same way.
	fmt.Printf("framegate listening on %s\n", ln.Addr())
	// SIGTERM or SIGINT: stop listening and exit 0, as framegate does (tests check the status).
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ln.Close()
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", serveWS(p, *logFrames != "off", time.Duration(*timeoutMs)*time.Millisecond))
	err = http.Serve(ln, mux)
	if !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
