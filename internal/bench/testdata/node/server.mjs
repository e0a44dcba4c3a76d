// The Node.js peer of the cold-start and memory phases: what a Node custom handler of this app
// would load before it answers — the Azure SDKs for tables, Service Bus and identity — with the
// clients built (no network call), then a plain node:http server on FUNCTIONS_CUSTOMHANDLER_PORT
// that answers every path 200.
import http from "node:http";
import { TableClient } from "@azure/data-tables";
import { ServiceBusClient } from "@azure/service-bus";
import { DefaultAzureCredential } from "@azure/identity";

const tables = TableClient.fromConnectionString(process.env.TABLES_CONNECTION_STRING, "sessions",
  { allowInsecureConnection: true });
const bus = new ServiceBusClient(process.env.SERVICEBUS_CONNECTION_STRING);
const sender = bus.createSender("liveness-events");
const credential = new DefaultAzureCredential();
const clients = [tables, sender, credential];

http.createServer((req, res) => {
  res.statusCode = clients.length > 0 ? 200 : 500;
  res.end();
}).listen(Number(process.env.FUNCTIONS_CUSTOMHANDLER_PORT), "127.0.0.1");
