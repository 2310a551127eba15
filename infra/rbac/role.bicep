// The custom role of the app identity on your source and target scopes: exactly the ARM actions
// the app calls. role-actions.json is shared.arm.operations.required_actions(); a test keeps the
// two equal, so a new ARM call cannot ship without its permission (or with a stale one).
targetScope = 'subscription'

param environmentName string
@description('Every scope the role may be assigned on (subscription and resource group ids).')
param assignableScopes array

var actions = loadJsonContent('role-actions.json')

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid('rpcopy-restore-point-copier', subscription().id, environmentName)
  properties: {
    roleName: 'rpcopy restore point copier (${environmentName}, ${take(uniqueString(subscription().id, environmentName), 6)})'
    description: 'Read, create and copy VM restore points and their collections, delete restore points (retention), read Compute operation status. Deployed by rpcopy (azd env ${environmentName}).'
    type: 'customRole'
    permissions: [
      {
        actions: actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: assignableScopes
  }
}

output roleDefinitionGuid string = role.name
output roleDefinitionId string = role.id
