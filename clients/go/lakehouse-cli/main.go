// Command lakehouse-cli is a small Go client of the Lakehouse gRPC API, built
// against the generated stubs in gen/go. It checks health, lists datasets,
// runs SQL and searches many corpora at once, printing JSON lines so scripts
// and tests can read them.
//
//	lakehouse-cli -addr 127.0.0.1:8080 health
//	lakehouse-cli -addr 127.0.0.1:8080 datasets
//	lakehouse-cli -addr 127.0.0.1:8080 sql "SELECT count(*) FROM workers"
//	lakehouse-cli -addr 127.0.0.1:8080 matrix-search -corpora a,b -k 5 -filter '{"state":"IL"}' "query text"
//	lakehouse-cli -addr 127.0.0.1:8080 matrix-search -corpora a,b -vector 1,0,0,0
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	lakehousev1 "lakehouse/gen/go/lakehouse/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "gateway or server address (host:port)")
	timeout := flag.Duration("timeout", 30*time.Second, "per-call timeout")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: lakehouse-cli [-addr host:port] health|datasets|sql QUERY|matrix-search [flags] [TEXT]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, *addr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fail(err)
	}
	defer conn.Close()

	var out proto.Message
	switch flag.Arg(0) {
	case "health":
		out, err = lakehousev1.NewSystemServiceClient(conn).GetHealth(ctx, &lakehousev1.GetHealthRequest{})
	case "datasets":
		out, err = lakehousev1.NewCatalogServiceClient(conn).ListDatasets(ctx, &lakehousev1.ListDatasetsRequest{})
	case "sql":
		if flag.NArg() < 2 {
			fail(fmt.Errorf("sql needs a query"))
		}
		out, err = lakehousev1.NewQueryServiceClient(conn).Sql(ctx, &lakehousev1.SqlRequest{Sql: flag.Arg(1)})
	case "matrix-search":
		out, err = lakehousev1.NewMatrixServiceClient(conn).Search(ctx, matrixSearchRequest(flag.Args()[1:]))
	default:
		fail(fmt.Errorf("unknown command %q", flag.Arg(0)))
	}
	if err != nil {
		fail(err)
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(out)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(b))
}

// matrixSearchRequest builds a MatrixService.Search request from the command's
// flags and its optional TEXT argument; bad flags exit 2 naming the flag.
func matrixSearchRequest(args []string) *lakehousev1.MatrixSearchRequest {
	fs := flag.NewFlagSet("matrix-search", flag.ExitOnError)
	corpora := fs.String("corpora", "", "comma-separated corpora (default: all)")
	k := fs.Int("k", 0, "results kept after fusion (default 8)")
	kPerCorpus := fs.Int("k-per-corpus", 0, "results per corpus (default 6)")
	fusion := fs.String("fusion", "", `"score" (default) or "rrf"`)
	filter := fs.String("filter", "", `metadata filter as a JSON object, e.g. '{"state":"IL"}'`)
	sql := fs.String("sql", "", "read-only SQL whose ids restrict every corpus")
	vector := fs.String("vector", "", "query vector as comma-separated floats, instead of TEXT")
	fs.Parse(args)
	req := &lakehousev1.MatrixSearchRequest{
		Text:       strings.Join(fs.Args(), " "),
		K:          int32(*k),
		KPerCorpus: int32(*kPerCorpus),
		Fusion:     *fusion,
		Sql:        *sql,
	}
	if *corpora != "" {
		req.Corpora = strings.Split(*corpora, ",")
	}
	if *vector != "" {
		for _, f := range strings.Split(*vector, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil {
				badFlag("vector", err)
			}
			req.Vector = append(req.Vector, float32(x))
		}
	}
	if *filter != "" {
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(*filter), &m); err != nil {
			badFlag("filter", fmt.Errorf("not a JSON object: %v", err))
		}
		s, err := structpb.NewStruct(m)
		if err != nil {
			badFlag("filter", err)
		}
		req.Filter = s
	}
	if req.Text == "" && len(req.Vector) == 0 {
		badFlag("vector", fmt.Errorf("give query TEXT or -vector"))
	}
	return req
}

// badFlag reports an unusable flag value on stderr and exits 2, like flag does.
func badFlag(name string, err error) {
	fmt.Fprintf(os.Stderr, "lakehouse-cli: matrix-search -%s: %v\n", name, err)
	os.Exit(2)
}

// fail prints the gRPC status as JSON on stderr (code name, message and the
// ErrorInfo reason when there is one) and exits 1.
func fail(err error) {
	st, _ := status.FromError(err)
	fields := map[string]string{"code": code.Code_name[int32(st.Code())], "message": st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			fields["reason"] = info.GetReason()
		}
	}
	b, _ := json.Marshal(fields)
	fmt.Fprintln(os.Stderr, string(b))
	os.Exit(1)
}
