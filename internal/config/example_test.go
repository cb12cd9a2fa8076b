package config_test

import (
	"fmt"

	"github.com/mistnet/mist/internal/config"
)

func Example() {
	global := config.NewGlobal()
	listen, _ := global.NewChild(config.ListenSocketScope)

	// Options tables name options without prefix, as luasteam does.
	opt, _ := config.ByName("NagleTime")
	_ = listen.Set(opt.ID, &config.Value{Type: config.Int32, Int: 0})

	conn, _ := listen.NewChild(config.ConnectionScope)
	v, res := conn.Get(config.NagleTime)
	fmt.Println(opt.Name, v.Int, res == config.OKInherited)

	// Out-of-range values are clamped, not refused.
	big := config.Int32Value(9000)
	_ = conn.Set(config.MTU_PacketSize, &big)
	c := conn.Connection()
	fmt.Println(c.MTUPacketSize, c.MTUDataSize)
	// Output:
	// NagleTime 0 true
	// 1300 1200
}
