package connector

import (
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
)

// userResourceType is a Fullstory user. Users carry no entitlements or
// grants, so the SDK skips asking for them.
var userResourceType = v2.ResourceType_builder{
	Id:          "user",
	DisplayName: "User",
	Description: "A Fullstory user: with an API key, a person Fullstory records, identified by uid (v2 Users API); with SCIM, a teammate who logs in to Fullstory",
	Traits:      []v2.ResourceType_Trait{v2.ResourceType_TRAIT_USER},
	Annotations: annotations.New(&v2.SkipEntitlementsAndGrants{}),
}.Build()
