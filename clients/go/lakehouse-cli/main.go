// Command lakehouse-cli is a small Go client of the Lakehouse gRPC API, built
// against the generated stubs in gen/go. It checks health, lists datasets and
// runs SQL, printing JSON lines so scripts and tests can read them.
//
//	lakehouse-cli -addr 127.0.0.1:8080 health
//	lakehouse-cli -addr 127.0.0.1:8080 datasets
//	lakehouse-cli -addr 127.0.0.1:8080 sql "SELECT count(*) FROM workers"
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	lakehousev1 "lakehouse/gen/go/lakehouse/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "gateway or server address (host:port)")
	timeout := flag.Duration("timeout", 30*time.Second, "per-call timeout")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: lakehouse-cli [-addr host:port] health|datasets|sql QUERY")
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

// fail prints the gRPC status as JSON on stderr and exits 1.
func fail(err error) {
	st, _ := status.FromError(err)
	b, _ := json.Marshal(map[string]string{"code": st.Code().String(), "message": st.Message()})
	fmt.Fprintln(os.Stderr, string(b))
	os.Exit(1)
}
