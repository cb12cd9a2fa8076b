package pb

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestFieldNumbers pins every field number and kind to the protocol
// tables; a typo here would silently break interop.
func TestFieldNumbers(t *testing.T) {
	type f struct {
		name string
		num  protoreflect.FieldNumber
		kind protoreflect.Kind
	}
	const (
		fx32 = protoreflect.Fixed32Kind
		fx64 = protoreflect.Fixed64Kind
		u32  = protoreflect.Uint32Kind
		u64  = protoreflect.Uint64Kind
		byt  = protoreflect.BytesKind
		str  = protoreflect.StringKind
		msg  = protoreflect.MessageKind
		enm  = protoreflect.EnumKind
	)
	for _, tc := range []struct {
		m      protoreflect.ProtoMessage
		fields []f
	}{
		{&ChallengeRequest{}, []f{{"connection_id", 1, fx32}, {"my_timestamp", 3, fx64}, {"protocol_version", 4, u32}}},
		{&ChallengeReply{}, []f{{"connection_id", 1, fx32}, {"challenge", 2, fx64}, {"your_timestamp", 3, fx64}, {"protocol_version", 4, u32}}},
		{&ConnectRequest{}, []f{{"client_connection_id", 1, fx32}, {"challenge", 2, fx64}, {"legacy_client_steam_id", 3, fx64},
			{"cert", 4, msg}, {"my_timestamp", 5, fx64}, {"ping_est_ms", 6, u32}, {"crypt", 7, msg},
			{"legacy_protocol_version", 8, u32}, {"legacy_identity_binary", 9, msg}, {"identity_string", 10, str}}},
		{&ConnectOK{}, []f{{"client_connection_id", 1, fx32}, {"legacy_server_steam_id", 2, fx64}, {"your_timestamp", 3, fx64},
			{"delay_time_usec", 4, u32}, {"server_connection_id", 5, fx32}, {"crypt", 7, msg}, {"cert", 8, msg},
			{"legacy_identity_binary", 10, msg}, {"identity_string", 11, str}}},
		{&ConnectionClosed{}, []f{{"debug", 2, str}, {"reason_code", 3, u32}, {"to_connection_id", 4, fx32}, {"from_connection_id", 5, fx32}}},
		{&NoConnection{}, []f{{"from_connection_id", 2, fx32}, {"to_connection_id", 3, fx32}}},
		{&UDPStats{}, []f{{"stats", 1, msg}, {"flags", 3, u32}}},
		{&ConnectionQuality{}, []f{{"instantaneous", 1, msg}, {"lifetime", 2, msg}}},
		{&CryptInfo{}, []f{{"key_type", 1, enm}, {"key_data", 2, byt}, {"nonce", 3, fx64}, {"protocol_version", 4, u32}, {"ciphers", 5, enm}}},
		{&CryptInfoSigned{}, []f{{"info", 1, byt}, {"signature", 2, byt}}},
		{&Certificate{}, []f{{"key_type", 1, enm}, {"key_data", 2, byt}, {"legacy_steam_id", 4, fx64}, {"gameserver_datacenter_ids", 5, fx32},
			{"time_created", 8, fx32}, {"time_expiry", 9, fx32}, {"app_ids", 10, u32}, {"legacy_identity_binary", 11, msg},
			{"identity_string", 12, str}, {"ip_addresses", 13, str}}},
		{&CertificateSigned{}, []f{{"private_key_data", 1, byt}, {"cert", 4, byt}, {"ca_key_id", 5, fx64}, {"ca_signature", 6, byt}}},
		{&IdentityLegacyBinary{}, []f{{"steam_id", 16, fx64}, {"generic_bytes", 2, byt}, {"generic_string", 3, str}, {"ipv6_and_port", 4, byt}}},
		{&LifetimeStats{}, []f{{"connected_seconds", 2, u32}, {"packets_sent", 3, u64}, {"packets_recv_lurch", 11, u64},
			{"multipath_packets_recv_sequenced", 12, u64}, {"multipath_send_enabled", 14, u32},
			{"packets_recv_out_of_order_corrected", 15, u64}, {"quality_histogram_100", 21, u32}, {"quality_ntile_50th", 33, u32},
			{"ping_histogram_25", 41, u32}, {"ping_ntile_98th", 54, u32}, {"jitter_histogram_negligible", 61, u32}, {"jitter_histogram_20", 66, u32}}},
		{&Rendezvous{}, []f{{"to_connection_id", 1, fx32}, {"sdr_routes", 2, byt}, {"ack_peer_routes_revision", 3, u32},
			{"connect_request", 4, msg}, {"connect_ok", 5, msg}, {"connection_closed", 6, msg}, {"ice_enabled", 7, protoreflect.BoolKind},
			{"from_identity", 8, str}, {"from_connection_id", 9, fx32}, {"to_identity", 10, str}, {"ack_reliable_msg", 11, u32},
			{"first_reliable_msg", 12, u32}, {"reliable_messages", 13, msg}, {"hosted_server_ticket", 14, byt}, {"application_messages", 15, msg}}},
		{&Rendezvous_ConnectRequest{}, []f{{"crypt", 6, msg}, {"cert", 7, msg}, {"to_virtual_port", 9, u32}, {"from_virtual_port", 10, u32}, {"from_fakeip", 11, str}}},
		{&Rendezvous_ConnectOK{}, []f{{"crypt", 5, msg}, {"cert", 6, msg}}},
		{&Rendezvous_ConnectionClosed{}, []f{{"debug", 5, str}, {"reason_code", 6, u32}}},
		{&Rendezvous_ReliableMessage{}, []f{{"ice", 1, msg}}},
		{&Rendezvous_ApplicationMessage{}, []f{{"data", 1, byt}, {"msg_num", 2, u64}, {"flags", 3, u32}, {"lane_idx", 4, u32}}},
		{&ICERendezvous{}, []f{{"add_candidate", 1, msg}, {"auth", 2, msg}}},
		{&ICERendezvous_Auth{}, []f{{"pwd_frag", 1, str}}},
		{&ICECandidate{}, []f{{"candidate", 3, str}}},
		{&InstantaneousStats{}, []f{{"out_packets_per_sec_x10", 1, u32}, {"peak_jitter_usec", 8, u32}}},
	} {
		d := tc.m.ProtoReflect().Descriptor()
		for _, want := range tc.fields {
			fd := d.Fields().ByName(protoreflect.Name(want.name))
			if fd == nil {
				t.Errorf("%s.%s missing", d.Name(), want.name)
				continue
			}
			if fd.Number() != want.num || fd.Kind() != want.kind {
				t.Errorf("%s.%s is #%d %v, want #%d %v", d.Name(), want.name, fd.Number(), fd.Kind(), want.num, want.kind)
			}
		}
	}
	if d := (&LifetimeStats{}).ProtoReflect().Descriptor(); d.Fields().Len() != 47 {
		t.Errorf("LifetimeStats has %d fields, want 47", d.Fields().Len())
	}
	if Cipher_CIPHER_NULL != 1 || Cipher_CIPHER_AES_256_GCM != 2 || CryptInfo_CURVE25519 != 1 || Certificate_ED25519 != 1 {
		t.Error("enum values")
	}
	if UDPStats_ACK_REQUEST_E2E != 2 || UDPStats_ACK_REQUEST_IMMEDIATE != 4 || UDPStats_NOT_PRIMARY_TRANSPORT_E2E != 16 {
		t.Error("stats flag values")
	}
}
