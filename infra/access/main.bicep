// The app identity's access to your source and target scopes: the custom role (rbac/role.bicep)
// assigned on every protected scope and every target scope.
//
// Deployed by infra/hooks/postprovision.sh as its own subscription deployment, NOT by azd
// provision: azd down deletes every resource group its deployment names, and a role assignment
// on your resource group would name it. infra/hooks/predown.sh removes exactly the assignments
// and the role definition listed in this deployment's outputs.
targetScope = 'subscription'

param environmentName string
@description('Principal id of the app identity (main.bicep output RPCOPY_APP_PRINCIPAL_ID).')
param principalId string
@description('Protected source scopes, comma-separated: subscription ids (GUID or /subscriptions/<id>) and/or resource group ids.')
param protectedScopes string
@description('Target scopes, comma-separated, same forms.')
param targetScopes string = ''

// Same normalisation as main.bicep (bare GUIDs become subscription ids, lower case).
var scopeList = [for s in split(replace('${protectedScopes},${targetScopes}', ' ', ''), ','): contains(s, '/') ? toLower(s) : '/subscriptions/${toLower(s)}']
var scopes = filter(scopeList, s => s != '/subscriptions/')
// union() also removes duplicates (a scope both protected and a target gets one assignment).
var allScopes = union(scopes, [])
// '/subscriptions/<id>' splits into 3 parts, '/subscriptions/<id>/resourceGroups/<name>' into 5.
var subscriptionScopes = filter(allScopes, s => length(split(s, '/')) == 3)
var resourceGroupScopes = filter(allScopes, s => length(split(s, '/')) == 5)

module role '../rbac/role.bicep' = {
  name: 'rpcopy-role-${take(uniqueString(environmentName), 8)}'
  // The definition lives in the subscription of the first scope; it is assignable on all of them.
  scope: subscription(split(allScopes[0], '/')[2])
  params: {
    environmentName: environmentName
    assignableScopes: allScopes
  }
}

module onSubscription '../rbac/role-assignment-subscription.bicep' = [for (s, i) in subscriptionScopes: {
  name: 'rpcopy-access-sub-${i}-${take(uniqueString(s, environmentName), 8)}'
  scope: subscription(split(s, '/')[2])
  params: {
    principalId: principalId
    roleDefinitionGuid: role.outputs.roleDefinitionGuid
  }
}]

module onResourceGroup '../rbac/role-assignment-resource-group.bicep' = [for (s, i) in resourceGroupScopes: {
  name: 'rpcopy-access-rg-${i}-${take(uniqueString(s, environmentName), 8)}'
  scope: resourceGroup(split(s, '/')[2], split(s, '/')[4])
  params: {
    principalId: principalId
    roleDefinitionGuid: role.outputs.roleDefinitionGuid
  }
}]

// infra/hooks/predown.sh deletes exactly these.
output roleDefinitionId string = role.outputs.roleDefinitionId
output subscriptionRoleAssignmentIds array = [for (s, i) in subscriptionScopes: onSubscription[i].outputs.id]
output resourceGroupRoleAssignmentIds array = [for (s, i) in resourceGroupScopes: onResourceGroup[i].outputs.id]
