<?php
/**
 * Router of the test WordPress for PHP's built-in server (tests/wordpress.py):
 *
 *     php -S 127.0.0.1:PORT -t DOCROOT tests/wp/router.php
 *
 * DOCROOT holds en/, fr/ and ar/, symlinks to one WordPress tree. An existing static file is
 * served as it is (return false); an existing PHP file, or a folder's index.php, is run; any
 * other URL of a site goes to that site's index.php, so pretty permalinks work. /robots.txt
 * is answered here (the sites live below the root); / redirects to /en/; the rest is 404.
 *
 * Every request appends one JSON line to $ICESCO_WP_LOG: method, uri, status (the response
 * code at the end), bytes (of the response body, counted by an output buffer), the request
 * headers If-None-Match, If-Modified-Since and User-Agent, the site and the time.
 *
 * This file runs in the global scope and then includes WordPress there: its state is in the
 * class Icesco_Router, its variables are prefixed and unset before the include.
 */

final class Icesco_Router {
	/** @var array<string, mixed> The log entry of this request. */
	public static array $request = array();
	public static bool $logged   = false;
	public static string $script = '';
}

Icesco_Router::$request = array(
	'method'            => $_SERVER['REQUEST_METHOD'] ?? '',
	'uri'               => $_SERVER['REQUEST_URI'] ?? '',
	'status'            => 0,
	'bytes'             => 0,
	'if_none_match'     => $_SERVER['HTTP_IF_NONE_MATCH'] ?? null,
	'if_modified_since' => $_SERVER['HTTP_IF_MODIFIED_SINCE'] ?? null,
	'user_agent'        => $_SERVER['HTTP_USER_AGENT'] ?? null,
	'site'              => null,
	'kind'              => 'wordpress',
	'time'              => microtime( true ),
);

function icesco_log_request( int $status, int $bytes ): void {
	if ( Icesco_Router::$logged ) {
		return;
	}
	Icesco_Router::$logged = true;
	$entry                 = Icesco_Router::$request;
	$entry['status']       = $status;
	$entry['bytes']        = $bytes;
	$entry['duration']     = round( microtime( true ) - $entry['time'], 4 );
	$log                   = getenv( 'ICESCO_WP_LOG' );
	if ( $log ) {
		$line = json_encode( $entry, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE );
		file_put_contents( $log, $line . "\n", FILE_APPEND | LOCK_EX );
	}
}

/** Output buffer callback: counts the body bytes that leave; logs when the buffer ends. */
function icesco_count_output( string $buffer, int $phase ): string {
	if ( ! ( $phase & PHP_OUTPUT_HANDLER_CLEAN ) ) {
		Icesco_Router::$request['bytes'] += strlen( $buffer );
	}
	if ( $phase & PHP_OUTPUT_HANDLER_FINAL ) {
		$code = http_response_code();
		icesco_log_request( is_int( $code ) ? $code : 200, Icesco_Router::$request['bytes'] );
	}
	return $buffer;
}

/** Last shutdown function: logs a request whose buffer was thrown away (ob_end_clean). */
function icesco_finish(): void {
	foreach ( ob_get_status( true ) as $icesco_status ) {
		if ( 'icesco_count_output' === $icesco_status['name'] ) {
			return; // PHP's final flush calls icesco_count_output() and logs.
		}
	}
	$code = http_response_code();
	icesco_log_request( is_int( $code ) ? $code : 200, Icesco_Router::$request['bytes'] );
}

function icesco_plain( int $status, string $body, array $headers = array() ): bool {
	http_response_code( $status );
	header( 'Content-Type: text/plain; charset=UTF-8' );
	foreach ( $headers as $icesco_header ) {
		header( $icesco_header );
	}
	Icesco_Router::$request['kind'] = 'router';
	icesco_log_request( $status, 'HEAD' === $_SERVER['REQUEST_METHOD'] ? 0 : strlen( $body ) );
	if ( 'HEAD' !== $_SERVER['REQUEST_METHOD'] ) {
		echo $body;
	}
	return true;
}

$icesco_docroot = rtrim( (string) $_SERVER['DOCUMENT_ROOT'], '/' );
$icesco_path    = rawurldecode( (string) parse_url( Icesco_Router::$request['uri'], PHP_URL_PATH ) );
$icesco_sites   = array( 'en', 'fr', 'ar' );
$icesco_site    = explode( '/', ltrim( $icesco_path, '/' ) )[0];
$icesco_switch  = (string) getenv( 'ICESCO_WP_SWITCHES' );

if ( '/robots.txt' === $icesco_path ) {
	$icesco_robots = $icesco_switch . '/robots.txt';
	return icesco_plain(
		200,
		is_file( $icesco_robots ) ? (string) file_get_contents( $icesco_robots )
			: "User-agent: *\nDisallow: /en/wp-admin/\nDisallow: /fr/wp-admin/\nDisallow: /ar/wp-admin/\n"
			. "Allow: /en/wp-admin/admin-ajax.php\nAllow: /fr/wp-admin/admin-ajax.php\nAllow: /ar/wp-admin/admin-ajax.php\n"
	);
}
if ( '/' === $icesco_path ) {
	return icesco_plain( 302, "Found\n", array( 'Location: /en/' ) );
}
if ( ! in_array( $icesco_site, $icesco_sites, true ) || in_array( '..', explode( '/', $icesco_path ), true ) ) {
	return icesco_plain( 404, "Not Found\n" );
}
Icesco_Router::$request['site'] = $icesco_site;

$icesco_file = $icesco_docroot . $icesco_path;
if ( is_file( $icesco_file ) && ! str_ends_with( $icesco_file, '.php' ) ) {
	Icesco_Router::$request['kind'] = 'static';
	icesco_log_request( 200, 'HEAD' === $_SERVER['REQUEST_METHOD'] ? 0 : (int) filesize( $icesco_file ) );
	return false; // The built-in server sends the file.
}

if ( is_file( $icesco_file ) ) {
	$icesco_script = $icesco_file;
} elseif ( str_ends_with( $icesco_path, '/' ) && is_file( $icesco_file . 'index.php' ) ) {
	$icesco_script = $icesco_file . 'index.php';
} else {
	$icesco_script = $icesco_docroot . '/' . $icesco_site . '/index.php';
	unset( $_SERVER['PATH_INFO'], $_SERVER['ORIG_PATH_INFO'] );
}
$_SERVER['SCRIPT_FILENAME'] = $icesco_script;
$_SERVER['SCRIPT_NAME']     = substr( $icesco_script, strlen( $icesco_docroot ) );
$_SERVER['PHP_SELF']        = $_SERVER['SCRIPT_NAME'];

ob_start( 'icesco_count_output' );
register_shutdown_function(
	static function (): void {
		// Registered from a shutdown function, so it runs after WordPress's own ones.
		register_shutdown_function( 'icesco_finish' );
	}
);
chdir( dirname( $icesco_script ) );
Icesco_Router::$script = $icesco_script;
unset( $icesco_docroot, $icesco_path, $icesco_sites, $icesco_site, $icesco_switch, $icesco_file, $icesco_script, $icesco_robots );

require Icesco_Router::$script;
