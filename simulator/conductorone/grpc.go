package conductorone

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"time"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// HelloRecord is what a connector reported about itself in a Hello call.
type HelloRecord struct {
	ClientID   string    `json:"client_id"`
	HostID     string    `json:"host_id"`
	TaskID     string    `json:"task_id,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// DisplayName is the connector metadata's display name.
	DisplayName string `json:"display_name,omitempty"`
	// The rest is the protojson of what the SDK sent.
	BuildInfo         json.RawMessage `json:"build_info,omitempty"`
	OSInfo            json.RawMessage `json:"os_info,omitempty"`
	ConnectorMetadata json.RawMessage `json:"connector_metadata,omitempty"`
	Capabilities      json.RawMessage `json:"capabilities,omitempty"`
}

// Hellos returns the Hello calls received, oldest first (the last 100).
func (s *Server) Hellos() []HelloRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hellos)
}

var c1zMagics = [][]byte{[]byte("C1ZF\x00"), []byte("C1Z3\x00")}

func isC1Z(data []byte) bool {
	for _, m := range c1zMagics {
		if bytes.HasPrefix(data, m) {
			return true
		}
	}
	return false
}

type batonService struct {
	v1.UnimplementedBatonServiceServer
	s *Server
}

var _ v1.BatonServiceServer = (*batonService)(nil)

func invalidArgument(err error) error {
	return status.Error(codes.InvalidArgument, err.Error())
}

func marshalProto(m proto.Message) json.RawMessage {
	if m == nil {
		return nil
	}
	b, err := protojson.Marshal(m)
	if err != nil || string(b) == "{}" {
		return nil
	}
	return b
}

func (b *batonService) Hello(ctx context.Context, req *v1.BatonServiceHelloRequest) (*v1.BatonServiceHelloResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, invalidArgument(err)
	}
	s := b.s
	md := req.GetConnectorMetadata()
	rec := HelloRecord{
		ClientID:          callerClientID(ctx),
		HostID:            req.GetHostId(),
		TaskID:            req.GetTaskId(),
		ReceivedAt:        s.now(),
		DisplayName:       md.GetDisplayName(),
		BuildInfo:         marshalProto(req.GetBuildInfo()),
		OSInfo:            marshalProto(req.GetOsInfo()),
		ConnectorMetadata: marshalProto(md),
		Capabilities:      marshalProto(md.GetCapabilities()),
	}
	s.mu.Lock()
	s.hellos = append(s.hellos, rec)
	if len(s.hellos) > maxHellos {
		s.hellos = slices.Clone(s.hellos[len(s.hellos)-maxHellos:])
	}
	s.changedLocked()
	s.mu.Unlock()
	s.save()
	s.logger.Info("hello", "client_id", rec.ClientID, "host_id", rec.HostID, "connector", rec.DisplayName)
	return &v1.BatonServiceHelloResponse{}, nil
}

func (b *batonService) GetTask(ctx context.Context, req *v1.BatonServiceGetTaskRequest) (*v1.BatonServiceGetTaskResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, invalidArgument(err)
	}
	s := b.s
	got, err := s.claimTasks(callerClientID(ctx), req.GetHostId(), 1, nil)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	resp := v1.BatonServiceGetTaskResponse_builder{
		NextPoll:      durationpb.New(s.opts.pollInterval),
		NextHeartbeat: durationpb.New(s.opts.heartbeatInterval),
	}
	if len(got) > 0 {
		resp.Task = got[0]
		resp.NextPoll = durationpb.New(0)
	}
	return resp.Build(), nil
}

func (b *batonService) GetTasks(ctx context.Context, req *v1.BatonServiceGetTasksRequest) (*v1.BatonServiceGetTasksResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, invalidArgument(err)
	}
	s := b.s
	got, err := s.claimTasks(callerClientID(ctx), req.GetHostId(), int(req.GetPageSize()), req.GetKnownTaskIds())
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	resp := v1.BatonServiceGetTasksResponse_builder{
		Tasks:         got,
		NextPoll:      durationpb.New(s.opts.pollInterval),
		NextHeartbeat: durationpb.New(s.opts.heartbeatInterval),
	}
	if len(got) > 0 {
		resp.NextPoll = durationpb.New(0)
	}
	return resp.Build(), nil
}

func (b *batonService) Heartbeat(ctx context.Context, req *v1.BatonServiceHeartbeatRequest) (*v1.BatonServiceHeartbeatResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, invalidArgument(err)
	}
	ids := slices.Clone(req.GetTaskIds())
	single := req.GetTaskId()
	if single != "" && !slices.Contains(ids, single) {
		ids = append(ids, single)
	}
	if len(ids) == 0 {
		return nil, status.Error(codes.InvalidArgument, "heartbeat names no task")
	}
	s := b.s
	s.mu.Lock()
	s.reapLocked()
	now := s.now()
	var cancelled []string
	for _, id := range ids {
		t, ok := s.tasks[id]
		if !ok {
			if id == single {
				s.mu.Unlock()
				return nil, status.Errorf(codes.NotFound, "task %s not found", id)
			}
			cancelled = append(cancelled, id)
			continue
		}
		if t.status != StatusRunning {
			// Re-queued (heartbeats stopped) or already finished: tell the
			// connector to stop working on it.
			cancelled = append(cancelled, id)
			continue
		}
		t.heartbeats++
		t.lastHeartbeat = now
		t.leaseUntil = now.Add(s.opts.heartbeatTimeout)
	}
	s.changedLocked()
	s.mu.Unlock()
	return v1.BatonServiceHeartbeatResponse_builder{
		NextHeartbeat:    durationpb.New(s.opts.heartbeatInterval),
		Cancelled:        single != "" && slices.Contains(cancelled, single),
		CancelledTaskIds: cancelled,
	}.Build(), nil
}

func (b *batonService) FinishTask(ctx context.Context, req *v1.BatonServiceFinishTaskRequest) (*v1.BatonServiceFinishTaskResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, invalidArgument(err)
	}
	s := b.s
	s.mu.Lock()
	s.reapLocked()
	t, ok := s.tasks[req.GetTaskId()]
	if !ok {
		s.mu.Unlock()
		return nil, status.Errorf(codes.NotFound, "task %s not found", req.GetTaskId())
	}
	if t.status != StatusRunning {
		st := t.status
		s.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "task %s is %s, not running", req.GetTaskId(), st)
	}
	t.finishedAt = s.now()
	t.hostID = req.GetHostId()
	if succ := req.GetSuccess(); succ != nil {
		t.status = StatusSucceeded
		t.errMsg, t.errCode, t.nonRetryable = "", "", false
		t.response = marshalProto(succ.GetResponse())
	} else {
		st := req.GetStatus()
		t.status = StatusFailed
		t.errCode = codes.Code(st.GetCode()).String()
		t.errMsg = st.GetMessage()
		if t.errMsg == "" {
			t.errMsg = t.errCode
		}
		t.nonRetryable = req.GetError().GetNonRetryable()
		t.response = marshalProto(req.GetError().GetResponse())
	}
	view := t.view()
	s.changedLocked()
	s.mu.Unlock()
	s.save()
	s.logger.Info("task finished", "task_id", view.ID, "type", view.Type, "status", view.Status, "error", view.Error)
	return &v1.BatonServiceFinishTaskResponse{}, nil
}

func (b *batonService) UploadAsset(stream grpc.ClientStreamingServer[v1.BatonServiceUploadAssetRequest, v1.BatonServiceUploadAssetResponse]) error {
	s := b.s
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return status.Error(codes.InvalidArgument, "upload is empty: the first message must be metadata")
	}
	if err != nil {
		return err
	}
	meta := first.GetMetadata()
	if meta == nil {
		return status.Error(codes.InvalidArgument, "upload must start with metadata naming the task")
	}
	if err := meta.Validate(); err != nil {
		return invalidArgument(err)
	}
	taskID := meta.GetTaskId()
	if err := s.checkUploadable(taskID); err != nil {
		return err
	}

	var buf bytes.Buffer
	hasher := sha256.New()
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return status.Error(codes.InvalidArgument, "upload ended without an EOF message carrying the sha256 checksum")
		}
		if err != nil {
			return err
		}
		switch {
		case msg.GetData() != nil:
			chunk := msg.GetData().GetData()
			if len(chunk) == 0 {
				return status.Error(codes.InvalidArgument, "upload data chunk is empty")
			}
			if int64(buf.Len()+len(chunk)) > s.opts.maxUploadSize {
				return status.Errorf(codes.ResourceExhausted, "upload exceeds %d bytes", s.opts.maxUploadSize)
			}
			buf.Write(chunk)
			hasher.Write(chunk)
		case msg.GetEof() != nil:
			want := msg.GetEof().GetSha256Checksum()
			got := hasher.Sum(nil)
			if len(want) != sha256.Size {
				return status.Errorf(codes.InvalidArgument, "EOF checksum must be %d bytes of sha256, got %d", sha256.Size, len(want))
			}
			if !bytes.Equal(want, got) {
				s.logger.Warn("upload refused: checksum mismatch", "task_id", taskID, "bytes", buf.Len())
				return status.Errorf(codes.DataLoss, "upload checksum mismatch: data hashes to sha256 %x, EOF says %x", got, want)
			}
			if err := s.storeUpload(taskID, buf.Bytes(), got); err != nil {
				return err
			}
			return stream.SendAndClose(&v1.BatonServiceUploadAssetResponse{})
		case msg.GetMetadata() != nil:
			return status.Error(codes.InvalidArgument, "upload metadata sent twice")
		default:
			return status.Error(codes.InvalidArgument, "upload message has no metadata, data or eof")
		}
	}
}

func (s *Server) checkUploadable(taskID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkUploadableLocked(taskID)
}

func (s *Server) storeUpload(taskID string, data, sum []byte) error {
	s.mu.Lock()
	if err := s.checkUploadableLocked(taskID); err != nil {
		s.mu.Unlock()
		return err
	}
	t := s.tasks[taskID]
	data = slices.Clone(data)
	kind := "c1z"
	if isC1Z(data) {
		// One c1z per task: a re-run replaces the previous upload.
		t.upload = data
		t.uploadSHA256 = hex.EncodeToString(sum)
		t.uploads++
		t.summary = nil
	} else {
		kind = "other"
		t.otherAsset = data
		t.otherAssets++
	}
	s.changedLocked()
	s.mu.Unlock()
	s.save()
	s.logger.Info("upload stored", "task_id", taskID, "kind", kind, "bytes", len(data), "sha256", hex.EncodeToString(sum))
	return nil
}

func (s *Server) checkUploadableLocked(taskID string) error {
	s.reapLocked()
	t, ok := s.tasks[taskID]
	if !ok {
		return status.Errorf(codes.NotFound, "upload for unknown task %s", taskID)
	}
	if t.status != StatusRunning {
		return status.Errorf(codes.FailedPrecondition, "upload for task %s which is %s, not running", taskID, t.status)
	}
	return nil
}
