-- LÖVE configuration for the mist networking example.
function love.conf(t)
	t.identity = 'mist-love-example'
	t.version = '11.0'
	t.window.title = 'mist: Steam networking sockets over UDP'
	t.window.width = 800
	t.window.height = 480
	-- Networking only: no sound, joystick or physics.
	t.modules.audio = false
	t.modules.sound = false
	t.modules.joystick = false
	t.modules.physics = false
	t.modules.video = false
end
