// Two user-assigned identities: the app's (ARM calls, storage, telemetry) and Event Grid's (it
// writes undeliverable events to the dead-letter container, nothing else).
param location string
param tags object
param appIdentityName string
param eventsIdentityName string

resource app 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: appIdentityName
  location: location
  tags: tags
}

resource events 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: eventsIdentityName
  location: location
  tags: tags
}

output appIdentityId string = app.id
output appClientId string = app.properties.clientId
output appPrincipalId string = app.properties.principalId
output eventsIdentityId string = events.id
output eventsPrincipalId string = events.properties.principalId
