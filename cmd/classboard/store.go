package main

import "github.com/classboard/classboard/store"

func storeConfig(o *options) store.Config {
	return store.Config{
		NodeName:         o.nodeName,
		DataDir:          o.data,
		ClusterAddr:      o.clusterAddr,
		Peers:            splitList(o.peers),
		ClusterAdvertise: o.clusterAdvertise,
		NATSURL:          o.natsURL,
		Replicas:         o.replicas,
		MaxStore:         o.maxStore,
		MaxMemory:        o.maxMemory,
		OpTimeout:        o.opTimeout,
		MediaQuota:       o.mediaQuota,
		TeacherLimits:    o.teacherLimits,
		ViewMaxKeys:      o.viewMaxKeys,
	}
}
