#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	conn
#open	2026-11-22-05-04-06
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	orig_bytes	resp_bytes	conn_state	local_orig	local_resp	missed_bytes	history	orig_pkts	orig_ip_bytes	resp_pkts	resp_ip_bytes	tunnel_parents
#types	time	string	addr	port	addr	port	enum	string	interval	count	count	string	bool	bool	count	string	count	count	count	count	set[string]
1795323846.850201	CTp5TQP66s8daBSBxz	198.18.0.1	44056	198.18.0.2	9000	tcp	-	0.000490	235	311	SF	-	-	-	ShADadfF	7	-	7	-	-
#close	2026-11-22-05-04-06
