// Package rawgrpc sends gRPC messages as the bytes a test wrote by hand
// (grpc.ForceCodec(rawgrpc.Codec{})): fields containerd 1.6's generated
// types lack, or messages no generated type would write.
package rawgrpc

// Codec passes []byte through as the message's protobuf encoding.
type Codec struct{}

func (Codec) Marshal(v interface{}) ([]byte, error) { return v.([]byte), nil }
func (Codec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (Codec) Name() string { return "proto" }
