// The namespaces nearly every Server feature uses: the HTTP surface, storage, identity, audit and the shared Http
// pieces. Listed once here rather than at the top of each file; a file's own usings name what is particular to it.
global using System.Data.Common;
global using System.Text.Json;
global using Microsoft.AspNetCore.Builder;
global using Microsoft.AspNetCore.Http;
global using Microsoft.AspNetCore.Routing;
global using Steward.Server.Audit;
global using Steward.Server.Hosting;
global using Steward.Server.Http;
global using Steward.Server.Identity;
global using Steward.Server.Organisations;
global using Steward.Server.Storage;
