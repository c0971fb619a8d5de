#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	conn
#open	2026-11-22-05-03-58
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	orig_bytes	resp_bytes	conn_state	local_orig	local_resp	missed_bytes	history	orig_pkts	orig_ip_bytes	resp_pkts	resp_ip_bytes	tunnel_parents
#types	time	string	addr	port	addr	port	enum	string	interval	count	count	string	bool	bool	count	string	count	count	count	count	set[string]
1795323838.176176	CpS4UmyoR07HlAdUP3	198.18.0.1	59426	198.18.0.2	9000	tcp	-	0.000615	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.196978	ChEStuXCnoUmYy7AwF	198.18.0.1	59436	198.18.0.2	9000	tcp	-	0.006301	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.223486	CPNzJEJajDyk7OTejB	198.18.0.1	59450	198.18.0.2	9000	tcp	-	0.003832	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.247519	CDWw2TllGwMqm1oq1s	198.18.0.1	59452	198.18.0.2	9000	tcp	-	0.000563	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.268364	CH1DhM1EQl9KVNAwe7	198.18.0.1	59468	198.18.0.2	9000	tcp	-	0.000747	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.289302	COqDuQ3KGpHoHI9Nkw	198.18.0.1	59484	198.18.0.2	9000	tcp	-	0.000591	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.310193	Cm5HBNRmchu3ztFPZK	198.18.0.1	59488	198.18.0.2	9000	tcp	-	0.000633	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.331027	Ch5Gw5ScVt8V58ZRP6	198.18.0.1	59492	198.18.0.2	9000	tcp	-	0.000736	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.355386	COAhfU3m0FfxBUJdVn	198.18.0.1	59508	198.18.0.2	9000	tcp	-	0.001329	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.355743	CxXu2S6zvoKfgqEHnH	198.18.0.1	59524	198.18.0.2	9000	tcp	-	0.002227	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.355781	CRAneQwj2XQGMGp8n2	198.18.0.1	59530	198.18.0.2	9000	tcp	-	0.001565	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.356127	CTbDPJfwOfreGnim6L	198.18.0.1	59534	198.18.0.2	9000	tcp	-	0.001228	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.356574	CmC83sOeCOTyETx5sA	198.18.0.1	59540	198.18.0.2	9000	tcp	-	0.001823	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.356746	CzbkjBH91GtcBgRjmS	198.18.0.1	59550	198.18.0.2	9000	tcp	-	0.002215	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.357567	CqMTjxjE2Vvj1ASllC	198.18.0.1	59552	198.18.0.2	9000	tcp	-	0.001672	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.357956	CPw6WokVTtJq2Wwbin	198.18.0.1	59564	198.18.0.2	9000	tcp	-	0.004219	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.412519	CoitF3jPqZM7sc6b1p	198.18.0.1	59574	198.18.0.2	9000	tcp	-	0.002691	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.435443	CQyobPFrsuPzi5Wiqg	198.18.0.1	59576	198.18.0.2	9000	tcp	-	0.003792	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
1795323838.459511	Ccf8GhXObnpYoGhRWE	198.18.0.1	40000	198.18.0.2	9000	tcp	-	0.003133	15	18	SF	-	-	-	ShADadfF	5	-	5	-	-
1795323838.662902	C8ikB7Pe1Qqv1FSIKD	198.18.0.1	40000	198.18.0.2	9000	tcp	-	0.004051	7	10	SF	-	-	-	ShADadFf	6	-	4	-	-
#close	2026-11-22-05-03-58
