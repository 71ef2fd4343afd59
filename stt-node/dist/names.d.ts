/** The engine names fields in snake_case; this package in camelCase. */
export declare const camelCase: (name: string) => string;
export declare const snakeCase: (name: string) => string;
/** A copy of plain data with every object key renamed, however deep. */
export declare function renameKeys(value: unknown, rename: (name: string) => string): unknown;
