#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	conn
#open	2026-11-22-05-03-44
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	orig_bytes	resp_bytes	conn_state	local_orig	local_resp	missed_bytes	history	orig_pkts	orig_ip_bytes	resp_pkts	resp_ip_bytes	tunnel_parents
#types	time	string	addr	port	addr	port	enum	string	interval	count	count	string	bool	bool	count	string	count	count	count	count	set[string]
1795323824.437035	CQNVyPRgbNgWpSbhrl	198.18.0.1	56294	198.18.0.2	9009	tcp	-	0.000038	0	0	REJ	-	-	-	Sr	1	-	1	-	-
1795323824.537538	CE4FWhugZS1hNLijEl	198.18.0.1	56306	198.18.0.2	9009	tcp	-	0.000035	0	0	REJ	-	-	-	Sr	1	-	1	-	-
#close	2026-11-22-05-03-44
